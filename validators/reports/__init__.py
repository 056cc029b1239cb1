"""Report writers, one module per format: ``text`` (the terminal table), ``jsonreport``,
``junit``, ``markdown``, ``html`` (with ``svg`` plots), and ``atomic``, the writer that
never leaves a torn or truncated report behind.
"""
