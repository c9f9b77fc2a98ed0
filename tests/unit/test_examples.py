"""The example notebooks run end to end on the shipped data and say what their text claims.

Every ``examples/*.py`` (jupytext percent format) is converted to a notebook and executed
in a Jupyter kernel running this interpreter, from the repository root, headless
(``MPLBACKEND=Agg``). The tests then read the cells' outputs: no error, the figures are
there, and the numbers the markdown relies on are in range.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

jupytext = pytest.importorskip("jupytext")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((REPO / "examples").glob("*.py"))
KERNEL = "python3"


@pytest.fixture(scope="module")
def kernel_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """A ``python3`` kernelspec running this interpreter, first on the Jupyter path."""
    data = tmp_path_factory.mktemp("jupyter")
    spec = data / "kernels" / KERNEL
    spec.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    spec.joinpath("kernel.json").write_text(
        json.dumps({"argv": argv, "display_name": "Python 3 (resilience)", "language": "python"})
    )
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("JUPYTER_PATH", str(data))
        mp.setenv("JUPYTER_PLATFORM_DIRS", "1")
        mp.setenv("MPLBACKEND", "Agg")
        from jupyter_client.kernelspec import KernelSpecManager

        assert KernelSpecManager().get_kernel_spec(KERNEL).argv[0] == sys.executable
        yield


@pytest.fixture(scope="module")
def executed(kernel_env: None) -> dict[str, Any]:
    """Every example executed once: file stem -> executed notebook."""
    out: dict[str, Any] = {}
    for path in EXAMPLES:
        nb = jupytext.read(path)
        client = nbclient.NotebookClient(
            nb,
            kernel_name=KERNEL,
            timeout=600,
            resources={"metadata": {"path": str(REPO)}},
        )
        client.execute()
        out[path.stem] = nb
    return out


def _outputs(nb: Any) -> list[dict[str, Any]]:
    return [o for cell in nb.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]


def _text(nb: Any) -> str:
    parts = []
    for o in _outputs(nb):
        if o["output_type"] == "stream":
            parts.append(o["text"])
        elif "data" in o and "text/plain" in o["data"]:
            parts.append(o["data"]["text/plain"])
    return "".join(parts)


def _images(nb: Any) -> list[str]:
    return [o["data"]["image/png"] for o in _outputs(nb) if "image/png" in o.get("data", {})]


def _number(text: str, pattern: str) -> float:
    found = re.search(pattern, text)
    assert found, f"no output matches {pattern!r}"
    return float(found.group(1).replace(",", ""))


def test_the_expected_examples_exist() -> None:
    assert {p.stem for p in EXAMPLES} >= {"disruption_g7", "frontier", "chips_taiwan"}
    for path in EXAMPLES:
        assert path.read_text().startswith("# ---\n# jupyter:\n#   jupytext:"), path


@pytest.mark.parametrize("name", [p.stem for p in EXAMPLES])
def test_every_cell_runs_without_error(executed: dict[str, Any], name: str) -> None:
    nb = executed[name]
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    assert code
    assert all(cell.get("execution_count") for cell in code)
    errors = [o for o in _outputs(nb) if o["output_type"] == "error"]
    assert not errors, errors
    assert "Traceback" not in _text(nb)
    # The inline magic of the percent script became a real magic in the notebook.
    assert any(cell.source.startswith("%matplotlib inline") for cell in code)


def test_disruption_notebook(executed: dict[str, Any]) -> None:
    nb = executed["disruption_g7"]
    text = _text(nb)
    assert "run status: optimal" in text
    # China's graphite controls cost the G7 money: far more if they strike than expected.
    expected = _number(text, r"expected welfare loss of the members: USD (-?[\d.]+) m")
    worst = _number(text, r"welfare loss USD (-?[\d.]+) m")
    assert 0 < expected < worst
    assert "worst scenario: china_graphite_controls" in text
    # The US price rises by about a fifth (the markdown says so); the US sheds most.
    assert 10 < _number(text, r"highest US price rise: ([\d.]+)%") < 50
    assert "largest share of demand shed: USA" in text
    assert 0 < _number(text, r"largest share of demand shed: USA, ([\d.]+)%") < 5
    # Stocks are insurance: the worst case falls below the no-policy one, at a price.
    stock_worst = _number(text, r"30 days of stock: worst-case loss USD ([\d.]+) m")
    no_policy = _number(text, r"\(no policy: USD ([\d.]+) m\)")
    assert no_policy == pytest.approx(worst, abs=1e-3)
    assert stock_worst < no_policy
    assert _number(text, r"stock bought for USD ([\d.]+) m") > 0
    # Pooling lowers both the worst case and the expected loss, buying nothing.
    assert _number(text, r"pooling: worst-case loss USD ([\d.]+) m") < no_policy
    assert _number(text, r"pooling: .* expected USD ([\d.]+) m") < expected
    # Friend-shoring at 50 % costs far more than the disruption and sheds demand.
    cap = _number(text, r"friend-shoring cap 50 %: expected welfare loss USD ([\d.]+) m")
    assert cap > 10 * worst
    assert _number(text, r"friend-shoring cap 50 %: .* demand shed ([\d.]+)%") > 5
    # Loss by scenario, price paths, policies, exposure and supplier shares.
    images = _images(nb)
    assert len(images) >= 5
    assert all(img.strip() for img in images)


def test_frontier_notebook(executed: dict[str, Any]) -> None:
    nb = executed["frontier"]
    text = _text(nb)
    assert "caps solved to optimality: 6 of 6" in text
    edge = _number(text, r"tightest cap without shedding demand: ([\d.]+)")
    assert 0.5 < edge < 1.0
    nil = _number(text, r"loss without a cap: USD (-?[\d.]+) m")
    tight = _number(text, r"loss at a cap of 50%: USD ([\d.]+) m")
    assert abs(nil) < 0.01  # the reference is the calm market without policy
    assert tight > 10
    assert _number(text, r"price rise up to ([\d.]+)%") > 20
    without_cap = _number(text, r"the controls add without a cap: USD ([\d.]+) m")
    assert without_cap > 0
    # A tight cap leaves the controls little to cut (the markdown says so).
    at_half = _number(text, r"the controls add at a cap of 50%: USD (-?[\d.]+) m")
    assert abs(at_half) < 0.1 * without_cap
    assert len(_images(nb)) >= 4


def test_chips_notebook(executed: dict[str, Any]) -> None:
    nb = executed["chips_taiwan"]
    text = _text(nb)
    assert "members: CAN, EU, GBR, JPN, USA" in text
    loss = {
        m: _number(text, rf"{m}-month blockade: members lose USD ([\d,.]+) m") for m in (3, 6, 12)
    }
    assert 0 < loss[3] < loss[6] < loss[12]  # a longer blockade costs more
    assert _number(text, r"USA, 6 months: loss USD ([\d,.]+) m") > 0.5 * loss[6]  # US firms
    assert _number(text, r"6-month blockade: .* price up to \+([\d,.]+)%") > 100
    # the markdown's claim: at 12 months Japan's fabs earn more than its buyers lose
    assert _number(text, r"JPN, 12 months: every-other-chip price up to \+([\d.]+)%") > 0
    assert _number(text, r"JPN, 12 months: .* net loss USD (-?[\d,.]+) m") < 0
    bound = _number(text, r"hand bound on the world's < 10 nm shortfall, 6 months: USD ([\d,.]+)")
    shed = _number(text, r"world shortfall \(no pre-built stock\): USD ([\d,.]+) m")
    assert 0 < bound <= shed
    worst = {
        name: _number(text, rf"{name}: members lose USD ([\d,.]+) m if")
        for name in ("no policy", "pooled inventories", "CHIPS-Act capacity")
    }
    assert worst["pooled inventories"] == pytest.approx(worst["no policy"], rel=0.01)
    assert worst["CHIPS-Act capacity"] < 0.5 * worst["no policy"]  # capacity at home cuts it
    assert len(_images(nb)) >= 2
