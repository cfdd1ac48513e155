"""The build backend of pyproject.toml (PEP 517), standard library only, so that pip installs offline anywhere.

setuptools before 70.1 (Debian 12 ships 66; Python 3.11's ensurepip 65.5) cannot build a wheel without the
separate `wheel` package, which a fresh virtual environment lacks, and fetching it needs a network. The wheel
built here holds the package ossrt/: ossrt.py as its __init__.py, the PEP 561 marker py.typed and, when
libossrt_c.so lies beside this file (build/python), the library, which the module looks for next to itself.
"""

import base64
import hashlib
import io
import sysconfig
import tarfile
import tomllib
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
LIBRARY = "libossrt_c.so"
# Fixed timestamps (1980-01-01, the earliest a zip entry holds): the same tree builds the same archive.
EPOCH, EPOCH_SECONDS = (1980, 1, 1, 0, 0, 0), 315532800


def _project() -> dict:
    return tomllib.loads((HERE / "pyproject.toml").read_text())["project"]


def _metadata(project: dict, version_field: str) -> bytes:
    return (f"{version_field}\nName: {project['name']}\nVersion: {project['version']}\n"
            f"Summary: {project['description']}\nLicense: {project['license']['text']}\n"
            f"Requires-Python: {project['requires-python']}\n").encode()


def _record_line(path: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{path},sha256={digest},{len(data)}"


def build_wheel(wheel_directory: str, config_settings: dict | None = None,
                metadata_directory: str | None = None) -> str:
    project = _project()
    files = {"ossrt/__init__.py": (HERE / "ossrt.py").read_bytes(), "ossrt/py.typed": b""}
    with_library = (HERE / LIBRARY).is_file()
    if with_library:
        files[f"ossrt/{LIBRARY}"] = (HERE / LIBRARY).read_bytes()
    # A wheel carrying the library is for this platform only (any Python 3: the module loads it with ctypes).
    platform = sysconfig.get_platform().replace("-", "_").replace(".", "_")
    tag = f"py3-none-{platform}" if with_library else "py3-none-any"
    dist_info = f"{project['name']}-{project['version']}.dist-info"
    files[f"{dist_info}/METADATA"] = _metadata(project, "Metadata-Version: 2.1")
    files[f"{dist_info}/WHEEL"] = (f"Wheel-Version: 1.0\nGenerator: ossrt pep517_backend\n"
                                   f"Root-Is-Purelib: {'false' if with_library else 'true'}\nTag: {tag}\n").encode()
    record = [_record_line(path, data) for path, data in files.items()] + [f"{dist_info}/RECORD,,"]
    files[f"{dist_info}/RECORD"] = ("\n".join(record) + "\n").encode()

    name = f"{project['name']}-{project['version']}-{tag}.whl"
    with zipfile.ZipFile(Path(wheel_directory) / name, "w", zipfile.ZIP_DEFLATED) as wheel:
        for path, data in files.items():
            entry = zipfile.ZipInfo(path, EPOCH)
            entry.external_attr = (0o755 if path.endswith(".so") else 0o644) << 16
            entry.compress_type = zipfile.ZIP_DEFLATED
            wheel.writestr(entry, data)
    return name


def build_sdist(sdist_directory: str, config_settings: dict | None = None) -> str:
    project = _project()
    root = f"{project['name']}-{project['version']}"
    files = {name: (HERE / name).read_bytes() for name in ("pyproject.toml", "pep517_backend.py", "ossrt.py")}
    files["PKG-INFO"] = _metadata(project, "Metadata-Version: 2.1")
    name = f"{root}.tar.gz"
    with tarfile.open(Path(sdist_directory) / name, "w:gz") as sdist:
        for path, data in files.items():
            entry = tarfile.TarInfo(f"{root}/{path}")
            entry.size, entry.mode, entry.mtime = len(data), 0o644, EPOCH_SECONDS
            sdist.addfile(entry, io.BytesIO(data))
    return name
