# syntax=docker/dockerfile:1
# One image for every Tamaru workload; the command picks which:
#   python -m services.accounts | earn | redeem | catalog | billing
#   python -m tamaru_operator                                  (the operator: kopf, standalone)
#   python -m tamaructl migrate                                (the Helm pre-upgrade Job)
# Build: docker build -t tamaru:dev .
ARG PYTHON_IMAGE=python:3.11-slim

# ---- build: every pinned dependency (dev extras too), generated protobuf code ----------------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
RUN python -m venv /opt/build
ENV PATH=/opt/build/bin:$PATH

# The whole lock, hashes checked: grpcio-tools and mypy-protobuf (dev extras) generate gen/.
COPY requirements.lock pyproject.toml ./
RUN --mount=type=cache,target=/root/.cache/pip \
    pip install --require-hashes --no-deps -r requirements.lock

# The runtime image gets only what `[project] dependencies` need: the lock's entries (same
# versions, same hashes) for the closure of those requirements, markers and extras applied.
# Dev tools (mypy, ruff, pytest, the Helm SDK, ...) are several hundred MB the services never use.
RUN python - <<'RUNTIME_LOCK'
import importlib.metadata
import re
import tomllib

from packaging.requirements import Requirement


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


with open("pyproject.toml", "rb") as f:
    wanted = [Requirement(r) for r in tomllib.load(f)["project"]["dependencies"]]
extras_of: dict[str, set[str]] = {}
while wanted:
    req = wanted.pop()
    if req.marker is not None and not req.marker.evaluate({"extra": ""}):
        continue
    name = normalize(req.name)
    if name in extras_of and set(req.extras) <= extras_of[name]:
        continue
    extras = extras_of.setdefault(name, set())
    extras.update(req.extras)
    for line in importlib.metadata.requires(name) or []:
        child = Requirement(line)
        if child.marker is None or any(
            child.marker.evaluate({"extra": e}) for e in {"", *extras}
        ):
            child.marker = None  # settled here; its `extra == ...` means nothing further down
            wanted.append(child)

# requirements.lock: "name==version \" at column 0, then indented hashes and "# via" lines.
blocks: dict[str, str] = {}
current = ""
with open("requirements.lock") as f:
    for line in f:
        head = re.match(r"([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?==", line)
        if head:
            current = normalize(head.group(1))
            blocks[current] = line
        elif line[:1].isspace() and current:
            blocks[current] += line
        else:
            current = ""
missing = sorted(set(extras_of) - set(blocks))
if missing:
    raise SystemExit(f"requirements.lock lacks {missing}: run `make lock`")
with open("requirements.runtime.lock", "w") as f:
    f.writelines(blocks[name] for name in sorted(extras_of))
print(f"runtime set: {len(extras_of)} of {len(blocks)} locked packages")
RUNTIME_LOCK

# --without-pip: the runtime venv holds no installer; the build venv's pip fills it.
RUN --mount=type=cache,target=/root/.cache/pip \
    python -m venv --without-pip /opt/venv \
    && pip --python /opt/venv/bin/python install --require-hashes --no-deps \
        -r requirements.runtime.lock

# The Makefile's gen/.stamp recipe (protoc-gen-mypy from the build venv is on PATH).
COPY protos/ protos/
RUN mkdir -p gen && python -m grpc_tools.protoc -I protos \
        --python_out=gen --grpc_python_out=gen --mypy_out=gen --mypy_grpc_out=gen \
        $(find protos -name '*.proto' | sort)

# ---- runtime ------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime
LABEL org.opencontainers.image.title="tamaru" \
      org.opencontainers.image.description="Tamaru services, operator and tamaructl" \
      org.opencontainers.image.licenses="Apache-2.0"
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/app:/app/gen:/app/operator \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    TAMARU_ENV=prod

# A fixed uid/gid, matching the chart's podSecurityContext (runAsUser/runAsGroup 10001).
RUN groupadd --system --gid 10001 tamaru \
    && useradd --system --uid 10001 --gid 10001 --no-create-home \
        --home-dir /nonexistent --shell /usr/sbin/nologin tamaru

WORKDIR /app
COPY --from=build /opt/venv /opt/venv
COPY --from=build /src/gen /app/gen
COPY runtime/ /app/runtime/
COPY services/ /app/services/
COPY tamaructl/ /app/tamaructl/
COPY operator/ /app/operator/
# Compiled now, owned by root: at run time the root filesystem is read-only.
RUN python -m compileall -q /app

USER 10001:10001
EXPOSE 50051 8080
CMD ["python", "-m", "tamaructl", "--help"]
