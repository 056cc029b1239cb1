"""Statistics as pure functions on arrays: PBO by CSCV (``cscv``), Sharpe, PSR and DSR
(``sharpe``), prediction metrics such as the exact ROC AUC (``metrics``) and threshold trials
(``trials``). They import nothing of the package but ``validators.errors``.
"""
