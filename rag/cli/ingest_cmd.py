"""`rag ingest [PATH ...] [--index DIR] [--rebuild] [--ray [ADDRESS]]`: build or update the index."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rag.cli import add_common_options


def add_parser(sub) -> None:
    parser = sub.add_parser("ingest", help="build or update the index from corpus files (default: the bundled newspapers)")
    parser.add_argument("paths", nargs="*", type=Path, help="files or folders (.txt .md .jsonl); default: data/corpus")
    parser.add_argument("--rebuild", action="store_true", help="ignore the existing index and build from scratch")
    parser.add_argument("--chunk-size", type=int, default=None, help="target chunk size in characters (env RAG_CHUNK_SIZE)")
    parser.add_argument("--chunk-overlap", type=int, default=None, help="overlap in characters (env RAG_CHUNK_OVERLAP)")
    parser.add_argument("--ray", nargs="?", const="local", default=None, metavar="ADDRESS",
                        help="embed on Ray: a local instance on this machine's cores, or the cluster at ADDRESS "
                             "(env RAG_RAY_ADDRESS; needs the optional extra: pip install 'rag-news-zh[scale]')")
    parser.add_argument("--ray-actors", type=int, default=None, help="embedding actors on Ray (env RAG_RAY_ACTORS; default one per core)")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    add_common_options(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, settings) -> int:
    from rag.errors import InputError
    from rag.store import default_paths, ingest

    if args.ray and Path(args.ray).exists():  # `--ray FOLDER`: a path to ingest, not a cluster's address
        args.paths, args.ray = [*args.paths, Path(args.ray)], "local"
    settings = settings.replace(chunk_size=args.chunk_size, chunk_overlap=args.chunk_overlap,
                                ray_address=args.ray, ray_actors=args.ray_actors)
    if settings.ray_address:  # before any work: a missing Ray is a one-line message
        from rag.store.ray_ingest import require_ray

        require_ray()
    if settings.chunk_size < 50 or not 0 <= settings.chunk_overlap < settings.chunk_size:
        raise InputError("Chunk size must be at least 50 and the overlap between 0 and the chunk size.")
    for path in args.paths:
        if not path.exists():
            raise InputError(f"No such file or folder: {path}")
    report = ingest(args.paths or None, settings, rebuild=args.rebuild, show_progress=True)
    if args.json:
        print(json.dumps(report.to_json(), ensure_ascii=False))
    else:
        print(report.summary())
        print(f"index: {settings.index_dir}")
    if not report.ingested_any:  # files that were left out do not fail the run, unless all were
        raise InputError(nothing_ingested_message(report, args.paths or default_paths(settings), settings))
    return 0


def nothing_ingested_message(report, paths: list[Path], settings) -> str:
    from rag.corpus.loaders import supported_suffixes
    from rag.store.factory import index_exists

    where = ", ".join(str(p) for p in paths)
    kept = " The existing index was left as it was." if not report.written and index_exists(settings) else ""
    if report.failed:
        return f"Nothing could be ingested from {where}: every file was left out ({len(report.failed)} listed above with the reason).{kept}"
    return f"No supported files ({', '.join(supported_suffixes())}) found in {where}; nothing to ingest.{kept}"
