"""Make the ONNX export of a model in a process of its own.

An export loads torch and the full sentence-transformers model, traces it, fuses it and
(for int8) quantises it. Done inside the process that then serves questions, it left that
process at about 7 GB of memory for good (9 GB at the peak), against 1.2 GB for a process
that only loads the finished exports: neither torch nor the allocator hands the memory
back. So ``export_in_child_process`` runs ``python -m rag.embeddings.export_process`` and
waits; the child's progress lines go to the same stderr, and its outcome comes back as a
small JSON file:

- exit 0: the export is in place;
- otherwise ``{"kind": "unavailable" | "model", "message": ...}``, raised in the parent as
  ``OnnxUnavailable`` (the caller may fall back to torch) or ``ModelError``. A child that
  dies without writing it (killed, out of memory) counts as ``OnnxUnavailable``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from rag.embeddings import onnx_backend
from rag.errors import ModelError, RagError

PACKAGE_ROOT = Path(__file__).resolve().parents[2]  # the directory holding rag/


def export_in_child_process(name: str, cache_dir: Path, device: str, variant: str, target: Path) -> None:
    """Export model ``name`` as ``variant`` ("onnx-fp32" or "onnx-int8") into ``target``."""
    with tempfile.TemporaryDirectory(prefix="rag-export-") as scratch:
        outcome_file = Path(scratch) / "outcome.json"
        command = [
            sys.executable, "-m", "rag.embeddings.export_process",
            "--model", name, "--cache-dir", str(cache_dir), "--device", device,
            "--variant", variant, "--target", str(target), "--outcome", str(outcome_file),
        ]  # fmt: skip
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(PACKAGE_ROOT), os.environ.get("PYTHONPATH")]))}
        try:
            returncode = subprocess.run(command, env=env, stdin=subprocess.DEVNULL).returncode
        except OSError as exc:
            raise onnx_backend.OnnxUnavailable(f"Cannot start the ONNX export ({exc}).") from None
        if returncode == 0 and (target / onnx_backend.CONFIG_FILE).is_file():
            return
        try:
            outcome = json.loads(outcome_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            outcome = {"kind": "unavailable", "message": f"The ONNX export stopped with exit code {returncode}."}
    if outcome.get("kind") == "model":
        raise ModelError(outcome["message"])
    raise onnx_backend.OnnxUnavailable(outcome["message"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Export a sentence-transformers model to ONNX (run by the parent process).")
    parser.add_argument("--model", required=True)
    parser.add_argument("--cache-dir", type=Path, required=True)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--variant", choices=["onnx-fp32", "onnx-int8"], required=True)
    parser.add_argument("--target", type=Path, required=True)
    parser.add_argument("--outcome", type=Path, required=True)
    args = parser.parse_args(argv)

    from rag.embeddings.model import _load  # the parent's way of resolving and converting the model

    try:
        torch_model = _load(args.model, args.cache_dir, args.device)
        onnx_backend.export(torch_model.model, args.target, quantization=args.variant.removeprefix("onnx-"))
    except onnx_backend.OnnxUnavailable as exc:
        return _report(args.outcome, "unavailable", str(exc))
    except RagError as exc:
        return _report(args.outcome, "model", str(exc))
    except Exception as exc:  # noqa: BLE001 - reported in one line by the parent, not as a traceback
        return _report(args.outcome, "unavailable", f"The ONNX export failed: {type(exc).__name__}: {exc}")
    return 0


def _report(path: Path, kind: str, message: str) -> int:
    path.write_text(json.dumps({"kind": kind, "message": message}, ensure_ascii=False), encoding="utf-8")
    return 1


if __name__ == "__main__":
    sys.exit(main())
