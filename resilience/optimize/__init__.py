"""Optimisation layer: bulk LP building (:mod:`.lp`), solving with HiGHS (:mod:`.solve`) and
infeasibility explanations (:mod:`.diagnostics`); the model families build on these."""
