"""Bring your own model and data: Run.from_arrays round trips, its errors,
and a PyTorch model trained the authors' way analysed through it."""
import numpy as np
import pytest

import groklab
from conftest import same_file


def test_exported_and_reimported_run_gives_the_same_analysis(cli, tmp_path):
    run = groklab.train(tmp_path / "a", p=23, steps=300, noise=0.2, progress=False)
    d = run.data
    back = groklab.Run.from_arrays(tmp_path / "b", run.weights, d["train_pairs"], d["train_labels"], d["test_pairs"],
                                   train_true_labels=d["train_true_labels"], corrupted=d["corrupted"],
                                   init_weights=run.init_weights,
                                   step=300, p=23)
    assert back.summary["train_acc"] == run.summary["train_acc"]
    assert back.summary["test_acc"] == run.summary["test_acc"]
    assert back.summary["corrupted_acc"] == run.summary["corrupted_acc"]
    assert back.phase == run.phase and back.data["corrupted"].sum() == d["corrupted"].sum()
    assert abs(back.config["noise"] - 0.2) < 1 / len(d["train_labels"])  # the file's fraction, 52 of 264
    run.ipr(), back.ipr()
    run.prune(order="low,high"), back.prune(order="low,high")
    for name in ("ipr.csv", "prune.csv"):
        assert same_file(run.path / name, back.path / name), name
    # the CLI reads the imported run too
    cli("ipr", back.path, "--no-plot", "--quiet")


def test_from_arrays_checks_shapes_and_labels(tmp_path):
    run = groklab.train(p=23, steps=10, progress=False)
    d = run.data
    with pytest.raises(ValueError, match=r"\(n, 2\)"):
        groklab.Run.from_arrays(tmp_path / "x", run.weights, d["train_pairs"][:, 0], d["train_labels"],
                                d["test_pairs"], p=23)
    bad = dict(run.weights)
    bad["U"] = np.zeros((400, 23), np.float32)
    with pytest.raises(ValueError, match="U"):
        groklab.Run.from_arrays(tmp_path / "y", bad, d["train_pairs"], d["train_labels"], d["test_pairs"], p=23)
    labels = np.array(d["train_labels"])
    labels[0] = 23
    with pytest.raises(ValueError, match="label"):
        groklab.Run.from_arrays(tmp_path / "z", run.weights, d["train_pairs"], labels, d["test_pairs"],
                                train_true_labels=d["train_true_labels"], p=23)
    assert not (tmp_path / "y").exists() or not any((tmp_path / "y").iterdir())


def test_a_pytorch_model_trained_the_authors_way(tmp_path):
    """A two-layer MLP with a quadratic activation on one-hot (m, n), MSE on
    one-hot targets, AdamW (the authors' notebooks' setting, small), then
    from_arrays: groklab's accuracies equal the model's own, and its IPR of
    the first layer equals numpy's."""
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    p, N, xi = 23, 128, 0.2
    rng = np.random.default_rng(0)
    pairs = np.array([(m, n) for m in range(p) for n in range(p)])
    rng.shuffle(pairs)
    train, test = pairs[: len(pairs) // 2], pairs[len(pairs) // 2:]
    true = (train[:, 0] + train[:, 1]) % p
    given = true.copy()
    k = int(xi * len(train))
    given[:k] = rng.integers(0, p, k)
    model = torch.nn.Sequential(torch.nn.Linear(2 * p, N, bias=False), torch.nn.Linear(N, p, bias=False))

    def forward(x):
        h = model[0](x)
        return model[1](h * h)

    def onehot(ps):
        x = torch.zeros(len(ps), 2 * p)
        x[torch.arange(len(ps)), torch.as_tensor(ps[:, 0])] = 1
        x[torch.arange(len(ps)), p + torch.as_tensor(ps[:, 1])] = 1
        return x
    xtr, ytr = onehot(train), torch.nn.functional.one_hot(torch.as_tensor(given), p).float()
    opt = torch.optim.AdamW(model.parameters(), lr=0.005, weight_decay=1.0)
    for _ in range(400):
        opt.zero_grad()
        loss = ((forward(xtr) - ytr) ** 2).mean()
        loss.backward()
        opt.step()
    with torch.no_grad():
        tr_acc = (forward(xtr).argmax(1).numpy() == given).mean()
        te_acc = (forward(onehot(test)).argmax(1).numpy() == (test[:, 0] + test[:, 1]) % p).mean()
    w1 = model[0].weight.detach().numpy()          # (N, 2p) = [U | V]
    weights = {"U": w1[:, :p], "V": w1[:, p:], "W": model[1].weight.detach().numpy()}
    run = groklab.Run.from_arrays(tmp_path / "torch", weights, train, given, test, train_true_labels=true,
                                  p=p, width=N)
    assert abs(run.summary["train_acc"] - tr_acc) < 1e-12 and abs(run.summary["test_acc"] - te_acc) < 1e-12
    assert run.config["noise"] == pytest.approx((given != true).mean())
    ipr = run.ipr(basis="additive")
    a2 = np.abs(np.fft.rfft(w1[:, :p].astype(np.float64), axis=1)) ** 2
    np.testing.assert_allclose(ipr["ipr_u"], (a2 ** 2).sum(1) / a2.sum(1) ** 2, rtol=2e-5)
