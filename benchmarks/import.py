"""`digest subscribers import` at scale: time on SQLite and PostgreSQL, and peak memory.

    .venv/bin/python benchmarks/import.py [--rows 10000] [--big 1000000] [--no-postgres]

Writes CSV files of fake subscribers (a few duplicates and invalid rows mixed in), then
runs the real CLI command (``digest -c config.yaml subscribers import FILE --list
weekly``) in a child process per run, timing it and reading the child's peak RSS
(``resource.getrusage(RUSAGE_CHILDREN)``, measured in a fresh process per run so the
figures do not accumulate). PostgreSQL runs in a schema of its own on
127.0.0.1:5432/test (``DIGEST_TEST_POSTGRES`` overrides), dropped afterwards.

Prints one line per run and last ``import_10k_sqlite_s=``, ``import_1m_peak_rss_mb=``.
Goals (issue 11): 10,000 rows in <= 2 s on SQLite; 1,000,000 rows in <= 250 MB.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
SERVER = os.environ.get("DIGEST_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
CHILD = """
import resource, sys, time
from digest.cli import app
start = time.perf_counter()
try:
    app(sys.argv[1:], standalone_mode=False)
finally:
    took = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"BENCH seconds={took:.2f} peak_rss_mb={peak:.0f}", file=sys.stderr)
"""


def write_csv(path: Path, rows: int) -> None:
    with path.open("w", encoding="utf-8") as out:
        out.write("email,name,city\n")
        for i in range(rows):
            if i % 1000 == 999:
                out.write("not-an-address,Broken Row,Nowhere\n")
            elif i % 500 == 499:
                out.write(f"member{i - 1}@example.net,Again,Elsewhere\n")  # duplicate
            else:
                out.write(f"member{i}@example.net,Member {i},City {i % 97}\n")


def config_for(tmp: Path, store_url: str) -> Path:
    config = {
        "organization": {
            "name": "Bench Federation",
            "postal_address": "1 Bench Street",
            "site_url": "https://digest.example.org",
            "sender": {"name": "Bench", "email": "news@example.org"},
        },
        "store": {"url": store_url},
        "output_dir": str(tmp / "out"),
        "sources": {"blog": {"type": "curated", "path": str(tmp), "origin": {"name": "B"}}},
        "formats": {"list": {"strategy": "list", "title": "List", "template": "weekly_list"}},
        "newsletters": {
            "weekly": {
                "title": "Weekly",
                "schedule": "fri 16:00",
                "timezone": "UTC",
                "formats": ["list"],
            }
        },
        "channels": {"email": {"type": "maildir", "path": str(tmp / "out" / "outbox")}},
    }
    path = tmp / f"config-{uuid.uuid4().hex[:6]}.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def run_import(config: Path, csv_path: Path) -> tuple[float, float, str]:
    args = ["-c", str(config), "subscribers", "import", str(csv_path), "--list", "weekly"]
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    done = subprocess.run(
        [sys.executable, "-c", CHILD, *args], capture_output=True, text=True, env=env
    )
    line = next((x for x in done.stderr.splitlines() if x.startswith("BENCH")), "")
    if done.returncode != 0 or not line:
        raise SystemExit(f"import failed:\n{done.stdout}\n{done.stderr}")
    fields = dict(part.split("=") for part in line.split()[1:])
    summary = done.stdout.strip().splitlines()[0]
    return float(fields["seconds"]), float(fields["peak_rss_mb"]), summary


def migrate(config: Path) -> None:
    """Create the schema first, so the timed import measures importing only."""
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    subprocess.run(
        [sys.executable, "-m", "digest.cli", "-c", str(config), "subscribers", "list"],
        check=True,
        capture_output=True,
        env=env,
    )


def postgres_schema() -> tuple[str, str] | None:
    try:
        import psycopg

        with psycopg.connect(SERVER, autocommit=True, connect_timeout=3) as conn:
            schema = f"digest_bench_{uuid.uuid4().hex[:10]}"
            conn.execute(f"CREATE SCHEMA {schema}")
    except Exception as exc:  # no server: say so and skip
        print(f"postgresql: skipped ({type(exc).__name__}: {exc})")
        return None
    return schema, f"{SERVER}?options=-csearch_path%3D{schema}"


def drop_schema(schema: str) -> None:
    import psycopg

    with psycopg.connect(SERVER, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA {schema} CASCADE")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--big", type=int, default=1_000_000)
    parser.add_argument("--no-postgres", action="store_true")
    options = parser.parse_args()
    results: dict[str, tuple[float, float]] = {}
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        small, big = tmp / "small.csv", tmp / "big.csv"
        write_csv(small, options.rows)
        write_csv(big, options.big)
        stores = {"sqlite": lambda label: f"sqlite:///{tmp / (label + '.db')}"}
        schemas: list[str] = []
        if not options.no_postgres:
            found = postgres_schema()
            if found:
                schemas.append(found[0])
                stores["postgresql"] = lambda _label, url=found[1]: url
        try:
            for backend, url_for in stores.items():
                for label, path, rows in (
                    ("small", small, options.rows),
                    ("big", big, options.big),
                ):
                    config = config_for(tmp, url_for(f"{backend}-{label}"))
                    migrate(config)
                    seconds, peak, summary = run_import(config, path)
                    results[f"{backend}-{label}"] = (seconds, peak)
                    print(
                        f"{backend:10} {rows:>9,} rows: {seconds:6.2f} s, peak RSS {peak:5.0f} MB"
                        f"  ({summary[:80]})"
                    )
                    if backend == "postgresql" and label == "small":
                        import psycopg

                        with psycopg.connect(SERVER, autocommit=True) as conn:
                            conn.execute(
                                f"TRUNCATE {schemas[0]}.subscriptions, "
                                f"{schemas[0]}.subscribers CASCADE"
                            )
        finally:
            for schema in schemas:
                drop_schema(schema)
    small_s = results["sqlite-small"][0]
    big_mb = results["sqlite-big"][1]
    print(f"import_{options.rows // 1000}k_sqlite_s={small_s:.2f}")
    print(f"import_{options.big // 1000}k_peak_rss_mb={big_mb:.0f}")
    if "postgresql-small" in results:
        print(f"import_{options.rows // 1000}k_postgresql_s={results['postgresql-small'][0]:.2f}")
        print(
            f"import_{options.big // 1000}k_postgresql_peak_rss_mb="
            f"{results['postgresql-big'][1]:.0f}"
        )


if __name__ == "__main__":
    main()
