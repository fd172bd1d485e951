"""The Go toolchains the integration tests run with: Debian's default go (/usr/bin/go) plus
every toolchain that scripts/go-toolchains has installed in its private directory
(CGOSAN_GO_TOOLCHAINS_DIR, default <repo>/build/go-toolchains).

    for version, goroot in toolchains():
        env = go_env(goroot, cache_dir)
        subprocess.run([os.path.join(goroot, "bin", "go"), "build", ...], env=env)

Only the Python standard library is used. Run this file to list the toolchains.
"""

import functools
import os
import re
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "go-toolchains"
DEFAULT_GO = "/usr/bin/go"

_VERSION = re.compile(r"^go version go(\d[^ ]*) ")


def toolchains_dir():
    """The private directory scripts/go-toolchains installs into."""
    d = os.environ.get("CGOSAN_GO_TOOLCHAINS_DIR") or str(REPO / "build" / "go-toolchains")
    return Path(d).resolve()


def _clean_env(goroot=None):
    env = {k: v for k, v in os.environ.items()
           if k not in ("GOROOT", "GOFLAGS", "GOENV", "GOTOOLCHAIN", "LD_PRELOAD")}
    env.update({"GOTOOLCHAIN": "local", "GOPROXY": "off", "GOENV": "off"})
    if goroot:
        env["GOROOT"] = str(goroot)
    return env


def _go_version(goroot, gobin):
    try:
        r = subprocess.run([str(gobin), "version"], env=_clean_env(goroot),
                           capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    m = _VERSION.match(r.stdout) if r.returncode == 0 else None
    return m.group(1) if m else None


def _version_key(version):
    return tuple(int(x) for x in re.findall(r"\d+", version))


def _scan():
    """Same result as `scripts/go-toolchains --print`, without the script."""
    found = []
    gobin = DEFAULT_GO if os.access(DEFAULT_GO, os.X_OK) else None
    if gobin is None:
        from shutil import which
        gobin = which("go")
    default_root = None
    if gobin:
        try:
            r = subprocess.run([gobin, "env", "GOROOT"], env=_clean_env(),
                               capture_output=True, text=True, timeout=60)
            default_root = r.stdout.strip() if r.returncode == 0 else None
        except (OSError, subprocess.TimeoutExpired):
            default_root = None
        ver = _go_version(default_root, gobin) if default_root else None
        if ver:
            found.append((ver, default_root))
    private = []
    for d in sorted((toolchains_dir() / "usr" / "lib").glob("go-1.*")):
        if default_root and os.path.realpath(d) == os.path.realpath(default_root):
            continue
        ver = _go_version(d, d / "bin" / "go")
        if ver and (d / "src" / "runtime").is_dir():
            private.append((ver, str(d)))
    private.sort(key=lambda t: _version_key(t[0]))
    return found + private


@functools.lru_cache(maxsize=None)
def _toolchains():
    result = None
    if os.access(SCRIPT, os.X_OK):
        try:
            r = subprocess.run([str(SCRIPT), "--print"], capture_output=True, text=True,
                               timeout=300, env=dict(os.environ))
            lines = [ln.split(None, 1) for ln in r.stdout.splitlines() if ln.strip()]
            if r.returncode == 0 and lines and all(len(p) == 2 for p in lines):
                result = [(v, root.strip()) for v, root in lines]
        except (OSError, subprocess.TimeoutExpired):
            result = None
    if result is None:
        result = _scan()
    return tuple(result)


def toolchains():
    """[(version, goroot)]: the default Debian toolchain first (e.g. ("1.19.8",
    "/usr/lib/go-1.19")), then every working private one in version order. Empty only when
    there is no Go at all."""
    return list(_toolchains())


def default_toolchain():
    """(version, goroot) of the default toolchain, or None."""
    t = _toolchains()
    return t[0] if t else None


def short_version(version):
    """"1.21.13" -> "1.21" (for test names)."""
    m = re.match(r"^(\d+\.\d+)", version)
    return m.group(1) if m else version


def go_binary(goroot):
    return str(Path(goroot) / "bin" / "go")


def go_env(goroot, cache_dir, base=None):
    """The environment to build with the toolchain at goroot: GOROOT, PATH with
    <goroot>/bin first, GOTOOLCHAIN=local, GOPROXY=off, GOFLAGS=-mod=mod, GO111MODULE=off
    (single-file builds; set GO111MODULE=on for a module), CGO_ENABLED=1, and a build cache
    per version, GOCACHE=<cache_dir>/<version>. base (default os.environ) is copied, without
    LD_PRELOAD/CGOSAN_OPTIONS/GOENV and other Go settings that would leak in."""
    goroot = str(Path(goroot))
    version = None
    for v, root in _toolchains():
        if os.path.realpath(root) == os.path.realpath(goroot):
            version = v
            break
    if version is None:
        version = _go_version(goroot, go_binary(goroot)) or Path(goroot).name
    src = dict(os.environ if base is None else base)
    env = {k: v for k, v in src.items()
           if k not in ("LD_PRELOAD", "CGOSAN_OPTIONS", "GOROOT", "GOFLAGS", "GOENV",
                        "GOTOOLCHAIN", "GOPATH", "GOCACHE", "GOBIN", "GOEXPERIMENT",
                        "GODEBUG", "GOOS", "GOARCH", "GO111MODULE")}
    cache = Path(cache_dir) / version
    env.update({
        "GOROOT": goroot,
        "PATH": os.pathsep.join([str(Path(goroot) / "bin"), src.get("PATH", os.defpath)]),
        "GOTOOLCHAIN": "local",
        "GOPROXY": "off",
        "GOFLAGS": "-mod=mod",
        "GO111MODULE": "off",
        "CGO_ENABLED": "1",
        "GOENV": "off",
        "GOCACHE": str(cache),
        "GOPATH": str(Path(cache_dir) / ".gopath"),
    })
    return env


if __name__ == "__main__":
    for v, root in toolchains():
        print(v, root)
