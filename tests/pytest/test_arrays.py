"""groklab.ipr, power_spectrum and phase on numpy arrays against a direct
numpy computation, and Run.ipr/spectrum/prune against the CLI's tables."""
import numpy as np
import pytest

import groklab
from conftest import same_file


def _numpy_ipr(x, basis, convention, r):
    x = np.asarray(x, dtype=np.float64)
    p = x.shape[-1]
    if basis == "dlog":
        g = next(g for g in range(2, p) if len({pow(g, k, p) for k in range(p - 1)}) == p - 1)
        x = x[..., [pow(g, k, p) for k in range(p - 1)]]
    if convention == "rfft":
        a2 = np.abs(np.fft.rfft(x, axis=-1)) ** 2
    else:
        a2 = np.abs(np.fft.fft(x, axis=-1)) ** 2
    return (a2 ** r).sum(-1) / (a2.sum(-1) ** r)


@pytest.mark.parametrize("p", [23, 97])
@pytest.mark.parametrize("basis", ["additive", "dlog"])
@pytest.mark.parametrize("convention", ["rfft", "full"])
@pytest.mark.parametrize("r", [2.0, 3.0])
def test_ipr_of_arrays_is_numpys(p, basis, convention, r):
    rng = np.random.default_rng(p)
    x = rng.normal(size=(40, p)).astype(np.float32)
    x[0] = np.cos(2 * np.pi * 3 * np.arange(p) / p)  # one frequency
    got = groklab.ipr(x, basis=basis, convention=convention, r=r)
    want = _numpy_ipr(x, basis, convention, r)
    np.testing.assert_allclose(got, want, rtol=2e-5, atol=0)
    assert abs(groklab.ipr(x[1], basis=basis, convention=convention, r=r) - want[1]) <= 2e-5 * want[1]


def test_a_cosine_has_ipr_one_and_one_half():
    x = np.cos(2 * np.pi * 5 * np.arange(97) / 97)
    assert abs(groklab.ipr(x) - 1) < 1e-6
    assert abs(groklab.ipr(x, convention="full") - 0.5) < 1e-6


def test_power_spectrum_is_numpys():
    x = np.random.default_rng(1).normal(size=(7, 31))
    np.testing.assert_allclose(groklab.power_spectrum(x), np.abs(np.fft.rfft(x.astype(np.float32), axis=-1)) ** 2,
                               rtol=1e-5, atol=1e-4)


def test_bad_arrays_and_options_are_refused():
    with pytest.raises(ValueError, match="should be"):
        groklab.ipr(np.zeros((2, 3, 4)))
    with pytest.raises(ValueError, match="allowed: additive, dlog"):
        groklab.ipr(np.ones((2, 5)), basis="log")
    with pytest.raises(ValueError, match="allowed: rfft, full"):
        groklab.ipr(np.ones((2, 5)), convention="half")
    with pytest.raises(ValueError, match="discrete-log basis needs a prime"):
        groklab.ipr(np.ones((2, 24)), basis="dlog")


def test_phase_rule():
    # docs/paper.md section 6, with xi = 0.3
    assert groklab.phase(1.0, 1.0, 0.3) == "coexistence"
    assert groklab.phase(0.05, 0.02, 0.3) == "confusion"
    assert groklab.phase(1.0, 0.02, 0.3) == "memorization"
    assert groklab.phase(0.02, 0.02, 0.3, reached_test90=True) == "forgetting"
    assert groklab.phase(0.7, 1.0, 0.3) == "full_inversion"
    names = groklab.phase(np.array([1.0, 1.0]), np.array([1.0, 0.0]), 0.3)
    assert list(names) == ["coexistence", "memorization"]
    # the subset rule: at xi 0.1 a network answering the corrupted examples' true labels
    assert groklab.phase(0.9, 1.0, 0.1) == "coexistence"
    assert groklab.phase_subset(0.9, 1.0, 0.0, 1.0, 0.1) == "full_inversion"
    assert groklab.phase_subset(0.95, 1.0, 0.5, 0.5, 0.3) == "partial_inversion"
    assert groklab.phase_subset(1.0, 0.02, np.nan, np.nan, 0.0) == groklab.phase(1.0, 0.02, 0.0)
    names = groklab.phase_subset(np.array([1.0, 0.93]), np.array([0.2, 0.2]), np.array([1.0, 0.7]), 0.0, 0.3)
    assert list(names) == ["memorization", "confusion"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    d = tmp_path_factory.mktemp("runs")
    return d, groklab.train(d / "py", p=23, steps=300, noise=0.2, wd=1, progress=False)


def test_run_tables_equal_the_cli_tables(cli, trained):
    d, run = trained
    cli("train", "--p", 23, "--steps", 300, "--noise", 0.2, "--wd", 1, "--quiet", "--out", d / "cli")
    cli("ipr", d / "cli", "--no-plot", "--quiet")
    cli("spectrum", d / "cli", "--no-plot", "--quiet")
    cli("prune", d / "cli", "--order", "all", "--no-plot", "--quiet")
    ipr = run.ipr()
    run.spectrum()
    prune = run.prune(order="all")
    for name in ("ipr.csv", "ipr_summary.json", "spectrum.csv", "prune.csv"):
        assert same_file(d / "cli" / name, run.path / name), name
    # the per-neuron IPR of U rows is groklab.ipr of the weights' rows
    np.testing.assert_allclose(ipr["ipr_u"], groklab.ipr(run.weights["U"]), rtol=1e-6)
    assert set(prune["order"]) == {"low", "high", "random"}


def test_run_data_and_weights(trained):
    d, run = trained
    data = run.data
    n_train = int(0.5 * 23 * 23)
    assert data["train_pairs"].shape == (n_train, 2) and data["test_pairs"].shape == (23 * 23 - n_train, 2)
    m, n = data["train_pairs"].T
    np.testing.assert_array_equal(data["train_true_labels"], (m + n) % 23)
    assert data["corrupted"].sum() == int(0.2 * n_train)
    assert np.all(data["train_labels"][~data["corrupted"]] == data["train_true_labels"][~data["corrupted"]])
    w = run.weights
    assert w["U"].shape == (500, 23) and w["W"].shape == (23, 500) and not w["U"].flags.writeable


def test_tables_without_pandas_are_dicts_of_the_same_numbers(trained, monkeypatch):
    d, run = trained
    with_pandas = run.metrics
    from groklab import _core
    monkeypatch.setattr(_core, "_pandas", [None])
    plain = run.metrics
    assert isinstance(plain, dict) and list(plain) == list(with_pandas.columns)
    for col in plain:
        np.testing.assert_array_equal(plain[col], np.asarray(with_pandas[col], float))
