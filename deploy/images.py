"""Build Glimpse's two images with podman and check them from the inside, the way docker-compose.yml runs them.

    python deploy/images.py build [--stand-in-bases] [--ca FILE]    # both images; build time and sizes
    python deploy/images.py check [--photos DIR] [--count N]        # the compose commands, inside the images
    python deploy/images.py all   [...]                             # build, then check (`make images`)

Where registry base images cannot be pulled, ``--stand-in-bases`` makes images of the same names from Debian's
packages (mmdebstrap, then ``podman import``): bookworm with Debian's python3.11, and with Debian's nodejs/npm.
The Dockerfile is unchanged for them. Where ``podman run`` cannot start containers (crun without cgroup
support), the checks start each command with ``buildah run --isolation chroot --network host`` in a working
container of the image, with the data volume bound from a scratch folder.

The check: the pipeline image's Dask scheduler, one worker and the MLflow UI start and answer their health
URLs; the pipeline job runs on that scheduler over a folder of photos on the volume; then the server image
serves that volume: /readyz is 200 and a text search answers with described results.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from models.evaluation import coco_root
from tools.processes import Child, free_port, spawn

ROOT = Path(__file__).resolve().parents[1]
TARGETS = ("server", "pipeline")
TAG = "glimpse-{target}:latest"
# Debian packages that make a bookworm root filesystem stand in for each registry base image.
STAND_INS = {
    "docker.io/library/python:3.11-slim-bookworm": ("ca-certificates", "python3", "python3-venv", "python-is-python3"),
    "docker.io/library/node:20-bookworm-slim": ("ca-certificates", "nodejs", "npm"),
}
HOST_CA = Path("/etc/ssl/certs/ca-certificates.crt")
# Import names the pipeline needs and the server image must not carry.
PIPELINE_ONLY = (
    "torch",
    "torchvision",
    "open_clip",
    "timm",
    "transformers",
    "dask",
    "distributed",
    "kedro",
    "kedro_viz",
    "matplotlib",
    "sklearn",
    "skimage",
    "rapidocr",
    "cv2",
    "onnxscript",
    "flask",
)
APP_UID = 10001  # the images' service user (Dockerfile `USER`)
SERVICE_S = 120.0  # each service must answer within this
BUILD_ATTEMPTS = 2  # a build that fails again after a retry is reported (PyPI downloads of several GB can break)
TAIL_LINES = 40  # lines of a failed command's output repeated in its error message


def log(message: str) -> None:
    print(f"[images {time.strftime('%H:%M:%S')}] {message}", flush=True)


@dataclass(frozen=True)
class Engine:
    """podman and buildah, on a private storage root when ``root`` is given (tests), else the default one."""

    root: Path | None = None

    def _storage(self) -> list[str]:
        if self.root is None:
            return []
        return ["--root", str(self.root / "root"), "--runroot", str(self.runroot), "--storage-driver", "overlay"]

    @property
    def runroot(self) -> Path:
        """podman refuses a run root over 50 characters: a short one in /tmp, named after the storage root."""
        digest = hashlib.sha1(str(Path(self.root).resolve()).encode()).hexdigest()[:10]
        return Path("/tmp") / f"glimpse-podman-{digest}"

    def podman(self, *args: str) -> list[str]:
        return ["podman", *self._storage(), *args]

    def buildah(self, *args: str) -> list[str]:
        return ["buildah", *self._storage(), *args]

    def reset(self) -> None:
        """Remove a private storage root: its containers, images and layers, and the mounts podman left on it."""
        if self.root is None:
            return
        subprocess.run(self.podman("system", "reset", "--force"), capture_output=True, check=False)
        root = str(Path(self.root).resolve())
        mounts = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()]
        for mount in sorted((m for m in mounts if m.startswith(root)), reverse=True):
            subprocess.run(["umount", mount], capture_output=True, check=False)
        shutil.rmtree(root, ignore_errors=True)
        shutil.rmtree(self.runroot, ignore_errors=True)

    def has_image(self, name: str) -> bool:
        return subprocess.run(self.podman("image", "exists", name), check=False).returncode == 0

    def image_bytes(self, name: str) -> int:
        out = subprocess.run(self.podman("image", "inspect", name), capture_output=True, text=True, check=True)
        return int(json.loads(out.stdout)[0]["Size"])


def missing_tools(stand_in_bases: bool = False) -> list[str]:
    tools = ["podman", "buildah", *(["mmdebstrap"] if stand_in_bases else [])]
    return [t for t in tools if shutil.which(t) is None]


def _apt_sources() -> list[str]:
    """The host's Debian sources for mmdebstrap (so it uses the mirror apt here uses), if it has any."""
    for candidate in (Path("/etc/apt/sources.list.d/debian.sources"), Path("/etc/apt/sources.list")):
        if candidate.is_file() and candidate.stat().st_size:
            return [str(candidate)]
    return []


def make_stand_in_bases(engine: Engine, workdir: Path) -> None:
    """Each missing base image, made from Debian's packages (~30–60 s each)."""
    for name, packages in STAND_INS.items():
        if engine.has_image(name):
            continue
        tarball = workdir / (name.rsplit("/", 1)[-1].replace(":", "-") + ".tar")
        log(f"making a stand-in for {name} from Debian packages: {', '.join(packages)}")
        include = ",".join(packages)
        mmdebstrap = ["mmdebstrap", "--quiet", "--variant=minbase", f"--include={include}", "bookworm", str(tarball)]
        subprocess.run([*mmdebstrap, *_apt_sources()], check=True)
        subprocess.run(engine.podman("import", "--quiet", str(tarball), name), check=True, stdout=subprocess.DEVNULL)
        tarball.unlink()


def build(engine: Engine, target: str, ca: Path | None, torch_index_url: str = "") -> float:
    """``podman build --target`` of the repository's Dockerfile; returns the seconds it took."""
    args = ["build", "--format", "docker", "--isolation", "chroot", "--network", "host", "--pull=missing"]
    if ca is not None:
        args += ["--secret", f"id=ca,src={ca}"]
    if torch_index_url:
        args += ["--build-arg", f"TORCH_INDEX_URL={torch_index_url}"]
    args += ["--target", target, "--tag", TAG.format(target=target), "--file", str(ROOT / "Dockerfile"), str(ROOT)]
    started = time.monotonic()
    for attempt in range(1, BUILD_ATTEMPTS + 1):
        log(f"building {TAG.format(target=target)}" + (f" (attempt {attempt})" if attempt > 1 else ""))
        try:
            run_keeping_tail(engine.podman(*args))
            break
        except subprocess.CalledProcessError as exc:
            if attempt == BUILD_ATTEMPTS:
                raise
            log(f"{target} build failed with exit code {exc.returncode}; its last lines:\n{exc.output}")
            log("building again: the layers already built are reused, so a download cut short is the only repeat")
    return time.monotonic() - started


def run_keeping_tail(argv: Sequence[str], lines: int = TAIL_LINES) -> None:
    """Run ``argv`` with its output streamed as usual; on failure the error carries the last ``lines`` of it.

    A build prints thousands of lines and CI logs keep only their ends, so the step that failed is repeated
    in the error message.
    """
    tail: deque[str] = deque(maxlen=lines)
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace") as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            sys.stdout.write(line)
            tail.append(line)
    sys.stdout.flush()
    if proc.returncode:
        raise subprocess.CalledProcessError(proc.returncode, list(argv), output="".join(tail).rstrip("\n"))


def build_all(engine: Engine, *, stand_in_bases: bool, ca: Path | None, torch_index_url: str = "") -> dict:
    """Both images; a report with build seconds and image sizes in MB."""
    with tempfile.TemporaryDirectory(prefix="glimpse-bases-") as workdir:
        if stand_in_bases:
            make_stand_in_bases(engine, Path(workdir))
    report = {}
    for target in TARGETS:
        seconds = build(engine, target, ca, torch_index_url)
        report[target] = {
            "build_s": round(seconds, 1),
            "size_mb": round(engine.image_bytes(TAG.format(target=target)) / 1e6),
        }
        log(f"{target}: built in {seconds:.0f} s, {report[target]['size_mb']} MB")
    return report


# --- running commands inside the images ----------------------------------------------------------------------


class Container:
    """A buildah working container of an image; each ``start`` runs one command in it, with the volume bound."""

    def __init__(self, engine: Engine, image: str, volume: Path, logs: Path) -> None:
        self.engine, self.volume, self.logs = engine, volume, logs
        made = subprocess.run(engine.buildah("from", "--pull=never", image), capture_output=True, text=True, check=True)
        self.name = made.stdout.strip()
        self.running: list[Child] = []

    def start(self, name: str, argv: Sequence[str], env: dict[str, str] | None = None) -> Child:
        flags = ["--isolation", "chroot", "--network", "host", "--volume", f"{self.volume}:/app/data"]
        for key, value in (env or {}).items():
            flags += ["--env", f"{key}={value}"]
        command = self.engine.buildah("run", *flags, self.name, "--", *argv)
        running = spawn(command, self.logs / f"{name}.log", name=name)
        self.running.append(running)
        return running

    def run(self, argv: Sequence[str]) -> subprocess.CompletedProcess:
        """Run one command to its end in the container; its output captured."""
        flags = ["--isolation", "chroot", "--network", "host"]
        return subprocess.run(
            self.engine.buildah("run", *flags, self.name, "--", *argv), capture_output=True, text=True, timeout=300
        )

    def close(self) -> None:
        for running in self.running:
            running.stop(grace_s=15)
        subprocess.run(self.engine.buildah("rm", self.name), capture_output=True, check=False)


def compose_commands() -> dict[str, list[str]]:
    """Each service's command line from docker-compose.yml (the server's is the image's CMD)."""
    import yaml  # PyYAML: in every environment that runs this (dev extras, Kedro)

    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    return {name: list(service["command"]) for name, service in services.items() if "command" in service}


def localise(argv: Sequence[str], ports: dict[str, int]) -> list[str]:
    """A compose command for the host's network: services and wildcard addresses on loopback, ports swapped."""
    out = []
    for arg in argv:
        arg = arg.replace("0.0.0.0", "127.0.0.1").replace("tcp://scheduler:", "tcp://127.0.0.1:")
        for old, new in ports.items():
            arg = str(new) if arg == old else arg.replace(f":{old}", f":{new}")
        out.append(arg)
    return out


def _server_command(port: int) -> list[str]:
    cmd = ROOT.joinpath("Dockerfile").read_text().rsplit("\nCMD ", 1)[1].strip()
    return localise(json.loads(cmd), {"8000": port})


def prepare_volume(volume: Path, photos: Path, count: int) -> int:
    """The scratch volume, owned by the images' user, with ``count`` photos in data/01_raw/demo."""
    demo = volume / "01_raw" / "demo"
    demo.mkdir(parents=True)
    (volume / "mlflow").mkdir()
    chosen = sorted(p for p in photos.iterdir() if p.suffix.lower() in {".jpg", ".jpeg", ".png"})[:count]
    if not chosen:
        raise FileNotFoundError(f"no photos in {photos}")
    for path in chosen:
        shutil.copy2(path, demo / path.name)
    for path in [volume, *volume.rglob("*")]:
        os.chown(path, APP_UID, APP_UID)
    return len(chosen)


def check(engine: Engine, photos: Path, count: int, workdir: Path) -> dict:
    """Run the compose commands inside the built images over a scratch volume; a report of what answered."""
    volume, logs = workdir / "data", workdir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    report: dict = {"photos": prepare_volume(volume, photos, count)}
    commands = compose_commands()
    ports = {name: free_port() for name in ("8786", "8787", "5000", "8000")}
    pipeline = Container(engine, TAG.format(target="pipeline"), volume, logs)
    server = None
    try:
        started = time.monotonic()
        scheduler = pipeline.start("scheduler", [*localise(commands["scheduler"], ports), "--host", "127.0.0.1"])
        scheduler.wait_for_url(f"http://127.0.0.1:{ports['8787']}/health", timeout_s=SERVICE_S)
        scheduler_url = f"tcp://127.0.0.1:{ports['8786']}"
        worker_argv = [*localise(commands["worker"], ports), "--host", "127.0.0.1", "--dashboard-address", ":0"]
        worker = pipeline.start("worker", worker_argv, {"GLIMPSE_DASK_SCHEDULER": scheduler_url})
        mlflow = pipeline.start("mlflow", localise(commands["mlflow"], ports))
        mlflow.wait_for_url(f"http://127.0.0.1:{ports['5000']}/", timeout_s=SERVICE_S)
        report["services_s"] = round(time.monotonic() - started, 1)
        log(f"scheduler, worker and MLflow UI answer ({report['services_s']} s); running the pipeline job")
        started = time.monotonic()
        job = pipeline.start("pipeline", commands["pipeline"], {"GLIMPSE_DASK_SCHEDULER": scheduler_url})
        if job.wait(1800) != 0 or worker.returncode is not None:
            raise RuntimeError(f"the pipeline job failed or did not end in 30 min\n{job.explain()}\n{worker.explain()}")
        report["pipeline_s"] = round(time.monotonic() - started, 1)
        log(f"pipeline job done in {report['pipeline_s']} s; starting the server image")
        server = Container(engine, TAG.format(target="server"), volume, logs)
        started = time.monotonic()
        web = server.start("server", _server_command(ports["8000"]))
        base = f"http://127.0.0.1:{ports['8000']}"
        web.wait_for_url(f"{base}/readyz", timeout_s=SERVICE_S)
        report["server_ready_s"] = round(time.monotonic() - started, 1)
        with urllib.request.urlopen(f"{base}/api/search?q=a+photo&k=3", timeout=30) as answer:
            results = json.load(answer)["results"]
        if not results or not all(r["description"]["alt"] for r in results):
            raise RuntimeError(f"the search answered without described results: {results}")
        report["search_alts"] = [r["description"]["alt"] for r in results]
        report["server_rss"] = _rss_mb(web.proc.pid)
        probe = "import importlib.util as u, json, sys; print(json.dumps([m for m in sys.argv[1:] if u.find_spec(m)]))"
        found = server.run(["python", "-c", probe, *PIPELINE_ONLY])
        if found.returncode != 0:
            raise RuntimeError(f"could not look for packages in the server image: {found.stderr}")
        report["server_image_has"] = json.loads(found.stdout)
        if report["server_image_has"]:
            raise RuntimeError(f"the server image carries pipeline packages: {report['server_image_has']}")
        return report
    finally:
        if server is not None:
            server.close()
        pipeline.close()


def _rss_mb(pid: int) -> dict | None:
    """Resident memory of the Python processes under ``pid`` (uvicorn's supervisor and workers; not buildah)."""
    try:
        import psutil
    except ImportError:
        return None
    found = [p for p in psutil.Process(pid).children(recursive=True) if "python" in p.name().lower()]
    rss = sorted(round(p.memory_info().rss / 1e6) for p in found)
    return {"processes": len(rss), "each_mb": rss, "total_mb": sum(rss)}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=("build", "check", "all"))
    parser.add_argument("--stand-in-bases", action="store_true", help="make missing base images from Debian packages")
    parser.add_argument(
        "--ca",
        type=Path,
        default=HOST_CA if HOST_CA.is_file() else None,
        help="CA bundle given to the build as the secret `ca` (default: the host's bundle)",
    )
    parser.add_argument("--torch-index-url", default=os.environ.get("TORCH_INDEX_URL", ""))
    parser.add_argument("--storage", type=Path, help="a private podman/buildah storage root")
    parser.add_argument("--photos", type=Path, default=coco_root() / "train2017", help="default: coco-mini's")
    parser.add_argument("--count", type=int, default=8, help="photos the checked pipeline job runs over")
    parser.add_argument("--report", type=Path, help="also write the report here as JSON")
    args = parser.parse_args(argv)
    missing = missing_tools(args.stand_in_bases)
    if missing:
        print(
            f"error: {', '.join(missing)} not found (Debian: apt-get install podman buildah mmdebstrap)",
            file=sys.stderr,
        )
        return 2
    engine = Engine(args.storage)
    report: dict = {}
    try:
        if args.action in {"build", "all"}:
            report["images"] = build_all(
                engine, stand_in_bases=args.stand_in_bases, ca=args.ca, torch_index_url=args.torch_index_url
            )
        if args.action in {"check", "all"}:
            with tempfile.TemporaryDirectory(prefix="glimpse-images-") as workdir:
                report["check"] = check(engine, args.photos, args.count, Path(workdir))
    except subprocess.CalledProcessError as exc:
        hint = "" if args.stand_in_bases else " (no registry here? --stand-in-bases makes the base images locally)"
        print(
            f"error: {' '.join(exc.cmd[:1] + exc.cmd[-8:])} failed with exit code {exc.returncode}{hint}",
            file=sys.stderr,
        )
        if isinstance(exc.output, str) and exc.output:
            print(f"its last lines:\n{exc.output}", file=sys.stderr)
        return 1
    except (RuntimeError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(report, indent=2))
    if args.report:
        args.report.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
