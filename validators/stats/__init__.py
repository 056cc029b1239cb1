"""Statistics as pure functions on arrays: PBO by CSCV (``cscv``, on per-block statistics from
``cscv_blocks``) and its band (``pbo_band``: a block-bootstrap interval and the share of
skill-less resamples as low), Sharpe, PSR and DSR (``sharpe``), prediction metrics such as the
exact ROC AUC (``metrics``) and threshold trials (``trials``). They import each other and
``validators.errors``, nothing else of the package.
"""
