"""``python -m recsys_utils.vectorstore delete-index NAME`` removes a Pinecone index;
``stats [--backend local|pinecone] [NAME]`` prints what a store holds."""

from __future__ import annotations

import argparse
import json

from . import open_store, resolve_backend


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m recsys_utils.vectorstore")
    sub = parser.add_subparsers(dest="command", required=True)
    delete = sub.add_parser("delete-index", help="delete a Pinecone index (uses PINECONE_API_KEY)")
    delete.add_argument("name")
    stats = sub.add_parser("stats", help="print a store's statistics")
    stats.add_argument("name", nargs="?", default="movies")
    stats.add_argument("--backend", default="auto", choices=("auto", "local", "pinecone"))
    args = parser.parse_args(argv)
    if args.command == "delete-index":
        from .pinecone_store import delete_index

        deleted = delete_index(args.name)
        print(
            f"deleted Pinecone index {args.name!r}" if deleted else f"no Pinecone index named {args.name!r}"
        )
        return 0
    backend = resolve_backend(args.backend)
    options = {"create": False} if backend == "pinecone" else {}
    print(json.dumps(open_store(backend, name=args.name, **options).stats(), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
