"""Optimisation layer: bulk LP building, solving with HiGHS, infeasibility explanations.

:mod:`.lp` builds models from frames and hands them to HiGHS, :mod:`.solve` solves and
classifies outcomes, :mod:`.diagnostics` explains infeasibility; model families build on these.
"""
