"""Reference figures from Optuna (Debian's python3-optuna, 3.1) for
search/parity_test.go: reads cases as JSON on stdin, writes answers as JSON.

tpe: each case is one parameter, a finished history and points; Optuna
ranks and splits the history as its TPESampler.sample_independent does and
fits its two Parzen estimators, and the answer is the trials below and
log l(x) - log g(x) at each point.

prune: each case is curves and an order of reports; Optuna's pruner runs
them through ask/report/should_prune/tell, and the answer is the epoch each
trial was pruned at (0: never). Median steps count from 0 (epoch e is step
e - 1); ASHA's count resources, so epoch e is step e.
"""

import json
import sys

import numpy as np
import optuna
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.samplers._tpe import parzen_estimator
from optuna.samplers._tpe.parzen_estimator import _ParzenEstimator, _ParzenEstimatorParameters
from optuna.samplers._tpe.sampler import (
    _get_observation_pairs,
    _split_observation_pairs,
    default_gamma,
    default_weights,
)
from optuna.trial import TrialState, create_trial

optuna.logging.set_verbosity(optuna.logging.ERROR)

# Optuna before 3.5 left out the -log(scale) of a scaled truncated normal's
# log density (its issue 5109, fixed by pull request 5110); the figures here
# are those of the fixed releases.
_unscaled_logpdf = parzen_estimator.truncnorm.logpdf


def _scaled_logpdf(x, a, b, loc=0, scale=1):
    return _unscaled_logpdf(x, a, b, loc, scale) - np.log(scale)


parzen_estimator.truncnorm.logpdf = _scaled_logpdf


# Equal centres (an Int's repeated values) take different bandwidths by
# their place in the sorted order, which matters once their weights differ
# (past 25 observations). numpy's default argsort leaves that order to its
# sort algorithm, which varies with numpy's version and the processor;
# dogrun keeps equal centres in claim order, and so does this stable sort.
class _StableArgsortNumpy:
    def __getattr__(self, name):
        return getattr(np, name)

    @staticmethod
    def argsort(a, **_):
        return np.argsort(a, kind="stable")


parzen_estimator.np = _StableArgsortNumpy()


def distribution(p):
    if p["kind"] == "uniform":
        return FloatDistribution(p["low"], p["high"])
    if p["kind"] == "loguniform":
        return FloatDistribution(p["low"], p["high"], log=True)
    if p["kind"] == "int":
        return IntDistribution(int(p["low"]), int(p["high"]), step=p["step"])
    return CategoricalDistribution(list(range(p["choices"])))


def external(p, x):
    return int(x) if p["kind"] in ("int", "choice") else x


def tpe(case):
    p = case["param"]
    dist = distribution(p)
    study = optuna.create_study(direction="maximize" if case["maximize"] else "minimize")
    for t in case["trials"]:
        params = {"x": external(p, t["x"])}
        if t["state"] == "complete":
            study.add_trial(create_trial(params=params, distributions={"x": dist}, value=t["value"]))
        else:
            study.add_trial(
                create_trial(
                    params=params,
                    distributions={"x": dist},
                    state=TrialState.PRUNED,
                    intermediate_values={t["epoch"]: t["value"]},
                )
            )
    values, scores, _ = _get_observation_pairs(study, ["x"])
    below, above = _split_observation_pairs(scores, default_gamma(len(scores)), None)
    xs = np.asarray(values["x"], dtype=float)
    params = _ParzenEstimatorParameters(
        consider_prior=True,
        prior_weight=case["prior_weight"],
        consider_magic_clip=True,
        consider_endpoints=case["consider_endpoints"],
        weights=default_weights,
        multivariate=False,
    )
    l = _ParzenEstimator({"x": xs[below]}, {"x": dist}, params)
    g = _ParzenEstimator({"x": xs[above]}, {"x": dist}, params)
    points = np.asarray(case["points"], dtype=int if p["kind"] == "choice" else float)
    score = l.log_pdf({"x": points}) - g.log_pdf({"x": points})
    return {"below": [int(i) for i in below], "score": [float(s) for s in score]}


def prune(case):
    if case["pruner"] == "median":
        pruner = optuna.pruners.MedianPruner(
            n_startup_trials=case["startup"],
            n_warmup_steps=case["warmup"],
            interval_steps=case["interval"],
            n_min_trials=case["min_trials"],
        )
        offset = -1
    else:
        pruner = optuna.pruners.SuccessiveHalvingPruner(
            min_resource=case["min_resource"],
            reduction_factor=case["reduction_factor"],
            min_early_stopping_rate=case["rate"],
        )
        offset = 0
    study = optuna.create_study(
        direction="maximize" if case["maximize"] else "minimize", pruner=pruner
    )
    curves = case["curves"]
    running, pruned, done = {}, [0] * len(curves), set()
    for i, e in case["order"]:
        if i in done:
            continue
        if i not in running:
            running[i] = study.ask()
        trial = running[i]
        trial.report(curves[i][e - 1], e + offset)
        if e == len(curves[i]):
            study.tell(trial, curves[i][e - 1])
            done.add(i)
        elif trial.should_prune():
            study.tell(trial, state=TrialState.PRUNED)
            pruned[i] = e
            done.add(i)
    return pruned


cases = json.load(sys.stdin)
json.dump(
    {"tpe": [tpe(c) for c in cases["tpe"] or []], "prune": [prune(c) for c in cases["prune"] or []]},
    sys.stdout,
)
