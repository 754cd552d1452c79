"""Measure how long devd takes to read a Terraform project, against `terraform plan` + `show -json`.

For each size N, `bench/generate_project.py` writes a project with N Lambda functions. devd is
measured three ways:

- cold in-process: `discover` with a new FileCache, in this already running interpreter, so
  every file is parsed and evaluated but Python start and imports are not counted;
- `devd ls --json`: the whole command in a new process, from Python start to the JSON output;
- re-discovery: one group file gets a new `memory` value, then `discover` runs again with a
  FileCache that contains the parse of every other file, as `devd up` does after a save.

The peer, measured in the same run on the same project, is the Terraform work that the AWS SAM
CLI's Terraform hook does before it serves: `terraform plan -out` and `terraform show -json`.
One `terraform init`, timed separately, installs hashicorp/aws from a local filesystem mirror
first. The plan runs with `-refresh=false`, which changes nothing on the empty
state. The provider's endpoints point at a moto server that this script starts on 127.0.0.1.

Usage: .venv/bin/python bench/discovery.py [--sizes 10,100,200,1000] [--rounds 5]
           [--terraform-sizes 10,100] [--profile-dir /tmp/devd-profile]
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import json
import os
import platform
import pstats
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self

import hcl2

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.generate_project import generate  # noqa: E402
from devd.config import resolve_settings  # noqa: E402
from devd.inventory import Inventory  # noqa: E402
from devd.terraform.discover import discover  # noqa: E402
from devd.terraform.files import FileCache  # noqa: E402
from devd.terraform.loader import TerraformOptions  # noqa: E402

VENV_BIN = REPO / ".venv" / "bin"
DEFAULT_PLUGIN_MIRROR = "/opt/tf-plugins"
EDITED_GROUP = 0
TARGET_SIZE = 200
TARGET_COLD_MS = 500.0
TARGET_CHANGE_MS = 50.0

# Terraform's CLI configuration for the peer: the provider comes from the local mirror only,
# and the update check (a request to checkpoint-api.hashicorp.com) is off.
CLI_CONFIG = """\
disable_checkpoint = true

provider_installation {{
  filesystem_mirror {{
    path    = "{mirror}"
    include = ["registry.terraform.io/hashicorp/aws"]
  }}
}}
"""


@dataclass
class SizeResult:
    """Samples in milliseconds for one project size."""

    functions: int
    rounds: int
    cold: list[float] = field(default_factory=list)
    ls_wall: list[float] = field(default_factory=list)
    start_wall: list[float] = field(default_factory=list)
    change: list[float] = field(default_factory=list)
    terraform_init_ms: float | None = None
    plan: list[float] = field(default_factory=list)
    show: list[float] = field(default_factory=list)
    planned_resources: int | None = None

    @property
    def terraform(self) -> list[float]:
        return [plan + show for plan, show in zip(self.plan, self.show)]


class ChildError(RuntimeError):
    """A child process failed or timed out."""


def run_child(command: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: float = 900) -> tuple[float, str]:
    """Run command in its own process group and return its wall time in ms and its stdout.

    Raises ChildError when the command exits with a non-zero status or runs longer than
    timeout seconds, after stopping the whole group.
    """
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, start_new_session=True)
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except BaseException:
        stop_group(process)
        raise
    elapsed = (time.perf_counter() - started) * 1000
    if process.returncode != 0:
        raise ChildError(f"{' '.join(command)} exited with status {process.returncode} in {cwd}:\n{stderr[-2000:]}")
    return elapsed, stdout


def stop_group(process: subprocess.Popen, grace: float = 5.0) -> None:
    """Send SIGTERM to the process group of process, then SIGKILL if it is still running after grace seconds."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    except ProcessLookupError:
        pass


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_moto(port: int, log_path: Path) -> subprocess.Popen:
    """Start a moto server on 127.0.0.1:port in its own process group and wait until it responds."""
    log = log_path.open("w")
    process = subprocess.Popen([str(VENV_BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
                               stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    log.close()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ChildError(f"moto_server exited with status {process.returncode}; see {log_path}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1):
                return process
        except OSError:
            time.sleep(0.2)
    stop_group(process)
    raise ChildError(f"moto_server did not respond on port {port} within 30 s; see {log_path}")


def count_requests(log_path: Path) -> int:
    """Return how many requests the moto server logged, apart from the readiness checks on `/`."""
    try:
        lines = log_path.read_text(errors="replace").splitlines()
    except OSError:
        return 0
    return sum(1 for line in lines if re.search(r'"[A-Z]+ /', line) and '"GET / HTTP' not in line)


def options_for(project: Path) -> tuple[TerraformOptions, Path]:
    """Return the discover arguments that `devd ls --infra infra` uses for project."""
    settings = resolve_settings(project, infra="infra")
    options = TerraformOptions(settings.infra_dir, settings.var_files, settings.variables, settings.environ)
    return options, settings.project_root


def check_inventory(inventory: Inventory, functions: int) -> None:
    """Raise when discover did not find every generated function and route."""
    if len(inventory.functions) != functions or len(inventory.routes) != functions:
        problems = "\n".join(str(p) for p in inventory.problems[:10])
        raise RuntimeError(f"expected {functions} functions and routes, found {len(inventory.functions)} "
                           f"functions and {len(inventory.routes)} routes; first problems:\n{problems}")


def measure_cold(project: Path, result: SizeResult) -> None:
    """Time discover with a new FileCache each round, in this process, after the HCL parser has loaded."""
    options, root = options_for(project)
    for _ in range(result.rounds):
        cache = FileCache()
        started = time.perf_counter()
        inventory = discover(options, root, cache=cache)
        result.cold.append((time.perf_counter() - started) * 1000)
        check_inventory(inventory, result.functions)


def measure_ls(project: Path, result: SizeResult) -> None:
    """Time `devd ls --json`, and a process that only starts Python, imports devd and loads the HCL parser."""
    command = [str(VENV_BIN / "devd"), "-C", str(project), "ls", "--infra", "infra", "--json"]
    startup = "import devd.cli, devd.terraform.discover, hcl2; hcl2.parses_to_tree('a = 1\\n')"
    imports = [str(VENV_BIN / "python"), "-c", startup]
    for _ in range(result.rounds):
        elapsed, stdout = run_child(command, project)
        result.ls_wall.append(elapsed)
        document = json.loads(stdout)
        if len(document["functions"]) != result.functions:
            raise RuntimeError(f"devd ls listed {len(document['functions'])} functions, expected {result.functions}")
        elapsed, _ = run_child(imports, project)
        result.start_wall.append(elapsed)


def edit_group_file(project: Path, memory: int) -> str:
    """Set the memory of the first function in one group file and return that function's key."""
    path = project / "infra" / f"group_{EDITED_GROUP:03d}.tf"
    text = path.read_text()
    key = re.search(r'^    "([^"]+)" = \{', text, re.MULTILINE).group(1)
    text, count = re.subn(r"^(      memory      = )\d+$", rf"\g<1>{memory}", text, count=1, flags=re.MULTILINE)
    if count != 1:
        raise RuntimeError(f"no memory line to edit in {path}")
    path.write_text(text)
    return key


def measure_change(project: Path, result: SizeResult) -> None:
    """Time discover after a one-file edit, with a FileCache that contains the previous parse of every file."""
    options, root = options_for(project)
    cache = FileCache()
    check_inventory(discover(options, root, cache=cache), result.functions)
    for index in range(result.rounds):
        memory = 1024 + 64 * (index % 2)
        key = edit_group_file(project, memory)
        started = time.perf_counter()
        inventory = discover(options, root, cache=cache)
        result.change.append((time.perf_counter() - started) * 1000)
        check_inventory(inventory, result.functions)
        edited = [f for f in inventory.functions if f"[\"{key}\"]" in f.address]
        if len(edited) != 1 or edited[0].memory != memory:
            raise RuntimeError(f"re-discovery did not pick up memory {memory} for {key}; the cache missed the edit")


def terraform_env(config: Path) -> dict[str, str]:
    """Return the environment for terraform, without the caller's AWS_* and TF_* variables (such
    as an AWS profile or TF_CLI_ARGS), which could change what the peer does."""
    env = {name: value for name, value in os.environ.items() if not name.startswith(("AWS_", "TF_"))}
    env.update(TF_CLI_CONFIG_FILE=str(config), TF_IN_AUTOMATION="1", CHECKPOINT_DISABLE="1")
    return env


def measure_terraform(project: Path, result: SizeResult, env: dict[str, str]) -> None:
    infra = project / "infra"
    result.terraform_init_ms, _ = run_child(["terraform", "init", "-input=false", "-no-color"], infra, env)
    for _ in range(result.rounds):
        elapsed, output = run_child(["terraform", "plan", "-refresh=false", "-input=false", "-no-color",
                                     "-out=tfplan"], infra, env)
        result.plan.append(elapsed)
        planned = re.search(r"Plan: (\d+) to add", output)
        result.planned_resources = int(planned.group(1)) if planned else None
        elapsed, output = run_child(["terraform", "show", "-json", "tfplan"], infra, env)
        result.show.append(elapsed)
        json.loads(output)


class GcTimer:
    """The time the garbage collector runs while the timer is entered, from `gc.callbacks`."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._started = 0.0

    def __enter__(self) -> Self:
        gc.callbacks.append(self._callback)
        return self

    def __exit__(self, *exc_info: object) -> None:
        gc.callbacks.remove(self._callback)

    def _callback(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.seconds += time.perf_counter() - self._started


class TimedFileCache(FileCache):
    """A FileCache that adds up the time spent in `parse`, and the part of it that the collector took."""

    def __init__(self, collector: GcTimer) -> None:
        super().__init__()
        self.collector = collector
        self.seconds = 0.0
        self.gc_seconds = 0.0

    def parse(self, path: Path, display: str):
        started = time.perf_counter()
        collected = self.collector.seconds
        try:
            return super().parse(path, display)
        finally:
            self.seconds += time.perf_counter() - started
            self.gc_seconds += self.collector.seconds - collected


@dataclass
class Split:
    """Milliseconds of one discover: the total, parsing (with the collections inside it), and
    garbage collection outside parsing."""

    total: float
    parse: float
    gc_in_parse: float
    gc_outside_parse: float

    @property
    def rest(self) -> float:
        return self.total - self.parse - self.gc_outside_parse


def timed_split(options: TerraformOptions, root: Path, cache: TimedFileCache) -> Split:
    cache.seconds = cache.gc_seconds = 0.0
    collector = cache.collector
    collector.seconds = 0.0
    with collector:
        started = time.perf_counter()
        discover(options, root, cache=cache)
        total = time.perf_counter() - started
    return Split(total * 1000, cache.seconds * 1000, cache.gc_seconds * 1000,
                 (collector.seconds - cache.gc_seconds) * 1000)


def split_discovery(project: Path, functions: int, rounds: int) -> None:
    """Print medians of where discover spends its time: parsing, garbage collection and the rest.

    Two what-if cases follow the plain one-file change: `gc.freeze()` after a warm-up, so that
    the collector no longer scans the cached parse results, and automatic collection switched
    off around each discover.
    """
    options, root = options_for(project)
    cases: dict[str, list[Split]] = {}
    cases["cold"] = [timed_split(options, root, TimedFileCache(GcTimer())) for _ in range(rounds)]
    cache = TimedFileCache(GcTimer())
    discover(options, root, cache=cache)

    def change_rounds() -> list[Split]:
        splits = []
        for index in range(rounds):
            edit_group_file(project, 1024 + 64 * (index % 2))
            splits.append(timed_split(options, root, cache))
        return splits

    cases["one-file change"] = change_rounds()
    gc.collect()
    gc.freeze()
    try:
        cases["one-file change after gc.freeze()"] = change_rounds()
    finally:
        gc.unfreeze()
    gc.disable()
    try:
        cases["one-file change, automatic collection off"] = change_rounds()
    finally:
        gc.enable()

    print(f"\n{functions} functions, medians of {rounds} rounds without a profiler:")
    for name, splits in cases.items():
        total = statistics.median(split.total for split in splits)
        parse = statistics.median(split.parse for split in splits)
        gc_in_parse = statistics.median(split.gc_in_parse for split in splits)
        gc_outside_parse = statistics.median(split.gc_outside_parse for split in splits)
        rest = statistics.median(split.rest for split in splits)
        print(f"  {name}: total {total:.0f} ms, parse {parse:.0f} ms (garbage collection inside it "
              f"{gc_in_parse:.0f} ms), garbage collection outside parsing {gc_outside_parse:.0f} ms, "
              f"rest {rest:.0f} ms")


def profile_discovery(project: Path, functions: int, directory: Path) -> None:
    """Write cProfile statistics of one cold discover and one re-discovery to directory, and print the top entries."""
    directory.mkdir(parents=True, exist_ok=True)
    options, root = options_for(project)
    cache = FileCache()
    profiler = cProfile.Profile()
    profiler.runcall(discover, options, root, cache)
    cold_path = directory / f"discover-cold-{functions}.prof"
    profiler.dump_stats(cold_path)

    edit_group_file(project, 2048)
    profiler = cProfile.Profile()
    profiler.runcall(discover, options, root, cache)
    change_path = directory / f"discover-change-{functions}.prof"
    profiler.dump_stats(change_path)

    for path in (cold_path, change_path):
        print(f"\n### {path}\n")
        pstats.Stats(str(path)).sort_stats("cumulative").print_stats(25)


def machine() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        completed = subprocess.run(["terraform", "version", "-json"], capture_output=True, text=True, check=False,
                                   env={**os.environ, "CHECKPOINT_DISABLE": "1"})
        version = json.loads(completed.stdout)["terraform_version"]
    except (OSError, ValueError, KeyError):
        version = "not found"
    return (f"{os.cpu_count()} cores ({model}), {platform.machine()} {platform.system()}, "
            f"Python {platform.python_version()}, Terraform {version}")


def median(samples: list[float]) -> str:
    return f"{statistics.median(samples):.0f}" if samples else "-"


def print_table(results: list[SizeResult]) -> None:
    print("| functions | rounds | devd cold in-process ms | `devd ls --json` wall ms | of which Python start, "
          "imports, parser load ms | re-discovery after one-file change ms | terraform plan + show ms | "
          "terraform / `devd ls` |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for result in results:
        ratio = "-"
        if result.terraform:
            ratio = f"{statistics.median(result.terraform) / statistics.median(result.ls_wall):.0f}"
        print(f"| {result.functions} | {result.rounds} | {median(result.cold)} | {median(result.ls_wall)} | "
              f"{median(result.start_wall)} | {median(result.change)} | {median(result.terraform)} | {ratio} |")

    print("\n| functions | terraform init ms (once) | plan ms | show -json ms | resources planned |")
    print("| --- | --- | --- | --- | --- |")
    for result in results:
        if result.terraform:
            print(f"| {result.functions} | {result.terraform_init_ms:.0f} | {median(result.plan)} | "
                  f"{median(result.show)} | {result.planned_resources} |")


def print_targets(results: list[SizeResult]) -> None:
    target = next((r for r in results if r.functions == TARGET_SIZE), None)
    if target is None:
        print(f"\ntargets: not checked, because {TARGET_SIZE} is not among the sizes")
        return
    for name, samples, limit in (("cold in-process", target.cold, TARGET_COLD_MS),
                                 ("`devd ls --json` wall", target.ls_wall, TARGET_COLD_MS),
                                 ("re-discovery after one-file change", target.change, TARGET_CHANGE_MS)):
        value = statistics.median(samples)
        verdict = "met" if value < limit else "not met"
        print(f"target at {TARGET_SIZE} functions, {name}: median {value:.0f} ms against {limit:.0f} ms, {verdict}")


def parse_sizes(text: str) -> list[int]:
    return [int(item) for item in text.split(",") if item.strip()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=parse_sizes, default=[10, 100, 200, 1000],
                        help="comma-separated function counts (default 10,100,200,1000)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds per measurement (default 5)")
    parser.add_argument("--large-rounds", type=int, default=3,
                        help="rounds per measurement for sizes of 1000 functions or more (default 3)")
    parser.add_argument("--terraform-sizes", type=parse_sizes, default=[10, 100],
                        help="sizes at which the terraform peer runs (default 10,100; an empty string skips it)")
    parser.add_argument("--plugin-mirror", default=DEFAULT_PLUGIN_MIRROR,
                        help="Terraform filesystem mirror that contains registry.terraform.io/hashicorp/aws "
                        f"(default {DEFAULT_PLUGIN_MIRROR})")
    parser.add_argument("--profile-dir", type=Path,
                        help="also print where discover spends its time (parse, garbage collection, the rest) "
                        "and write cProfile statistics for each size into this directory")
    args = parser.parse_args()

    results: list[SizeResult] = []
    load_at_start = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="devd-discovery-") as directory:
        work = Path(directory)
        config = work / "terraform.rc"
        config.write_text(CLI_CONFIG.format(mirror=args.plugin_mirror))
        # The first parse in a process loads python-hcl2's Lark parser from its cache file. Loading
        # it here keeps that one-time cost out of the in-process figures.
        hcl2.parses_to_tree("a = 1\n")
        port = free_port()
        moto = start_moto(port, work / "moto.log")
        try:
            for functions in args.sizes:
                rounds = args.large_rounds if functions >= 1000 else args.rounds
                result = SizeResult(functions, rounds)
                project = generate(work / f"project-{functions}", functions, f"http://127.0.0.1:{port}")
                print(f"{functions} functions: devd", file=sys.stderr, flush=True)
                measure_cold(project, result)
                measure_ls(project, result)
                measure_change(project, result)
                if functions in args.terraform_sizes:
                    print(f"{functions} functions: terraform", file=sys.stderr, flush=True)
                    measure_terraform(project, result, terraform_env(config))
                if args.profile_dir:
                    split_discovery(project, functions, rounds)
                    profile_discovery(project, functions, args.profile_dir)
                results.append(result)
        finally:
            stop_group(moto)
            aws_requests = count_requests(work / "moto.log")

    print(f"\nmachine: {machine()}")
    print(f"1-minute load average: {load_at_start:.1f} at the start, {os.getloadavg()[0]:.1f} at the end")
    print(f"requests that terraform sent to the moto server: {aws_requests}\n")
    print_table(results)
    print()
    print_targets(results)


if __name__ == "__main__":
    main()
