# The opschecks suite as an image, `pytest` its entrypoint: pass any marker or option. Two targets:
#   production (the default): the checklist and requirements.lock only, no sandbox extra (no moto, no SecantusDB)
#   sandbox: production plus requirements-sandbox.lock, so `--sandbox` works inside (CI's in-image daily run)
#
#   docker build -t opschecks .                     # the production target
#   docker run --rm -v "$PWD/opschecks.toml:/opt/opschecks/opschecks.toml:ro" -v "$HOME/.kube:/home/opschecks/.kube:ro" \
#       -e AWS_PROFILE -v "$HOME/.aws:/home/opschecks/.aws:ro" -v "$PWD/reports:/opt/opschecks/reports" opschecks -m daily
#   docker build --target sandbox -t opschecks:sandbox . && docker run --rm opschecks:sandbox -m daily --sandbox
#
# CI builds both from a locally made Debian bookworm + python3 base with a local wheelhouse (see .ci/run), as no
# image registry is reachable there: --build-arg PYTHON_BASE=... PIP_INSTALL_OPTIONS="--no-index --find-links=/wheels".
# Sizes and what they are made of: docs/deploy.md, "The image".
ARG PYTHON_BASE=docker.io/library/python:3.11-slim-bookworm

# The production root filesystem, flattened into one layer below, so what is deleted here takes no room.
#
# The venv gets exactly requirements.lock (--no-deps; `pip check` fails the build when the lock misses a
# dependency), from a pip of its own that is deleted after, and no bytecode (--no-compile: the CronJobs' root
# filesystem is read-only anyway). It loses what the suite never loads: kubernetes/aio, the client's asyncio
# twin (about 42 MB; the suite uses the synchronous client, tests/test_requirements_lock.py holds every module to
# that), the packages' own tests/ and type stubs. The wheels' shared libraries are stripped as Debian strips its
# packages' (--strip-unneeded: about 33 MB; binutils is installed for that and purged), except those auditwheel
# patched (libraries grafted into *.libs/, extensions given an RPATH to them), which stripping breaks ("ELF load
# command address/offset not page-aligned").
#
# The base loses what debian:bookworm-slim leaves out too (documentation but the copyright files, manual pages,
# translations: about 50 MB of the local Debian base, little of the official python image), with the same dpkg
# exclusions, so that an image derived from this one stays slim.
FROM ${PYTHON_BASE} AS rootfs
ARG PIP_INSTALL_OPTIONS=""
ENV PYTHONDONTWRITEBYTECODE=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends binutils >/dev/null
COPY requirements.lock /tmp/requirements.lock
RUN python3 -m venv /tmp/pip \
 && python3 -m venv --without-pip /opt/venv \
 && /tmp/pip/bin/pip --python /opt/venv/bin/python install --quiet --no-compile --no-deps $PIP_INSTALL_OPTIONS \
        -r /tmp/requirements.lock \
 && /tmp/pip/bin/pip --python /opt/venv/bin/python check \
 && rm -r /tmp/pip /tmp/requirements.lock \
 && cd /opt/venv/lib/python3.11/site-packages \
 && rm -r kubernetes/aio \
 && find . -depth -type d \( -name tests -o -name __pycache__ \) -exec rm -r {} + \
 && find . -name '*.pyi' -delete \
 && find . -type f -name '*.so*' ! -path '*.libs/*' -exec sh -c 'for f; do readelf -d "$f" | grep -qE "\((RPATH|RUNPATH)\)" \
        || strip --strip-unneeded "$f"; done' sh {} + \
 && cd / \
 && apt-get purge -y -qq --auto-remove binutils >/dev/null && apt-get clean \
 && useradd --create-home --uid 10001 opschecks \
 && printf '%s\n' 'path-exclude /usr/share/doc/*' 'path-include /usr/share/doc/*/copyright' \
        'path-exclude /usr/share/man/*' 'path-exclude /usr/share/info/*' 'path-exclude /usr/share/groff/*' \
        'path-exclude /usr/share/lintian/*' 'path-exclude /usr/share/locale/*' \
        'path-include /usr/share/locale/locale.alias' >/etc/dpkg/dpkg.cfg.d/opschecks-slim \
 && mkdir -p /usr/share/doc /usr/share/locale \
 && find /usr/share/doc -mindepth 1 -not -name copyright -not -type d -delete \
 && find /usr/share/doc -mindepth 1 -depth -type d -empty -delete \
 && find /usr/share/locale -mindepth 1 -maxdepth 1 -not -name locale.alias -exec rm -r {} + \
 && rm -rf /usr/share/man/* /usr/share/info/* /usr/share/groff/* /usr/share/lintian/* /var/lib/apt/lists/* \
        /var/cache/apt/*.bin /var/cache/debconf/*-old /var/lib/dpkg/*-old /var/log/apt/* /var/log/dpkg.log

FROM scratch AS production
COPY --from=rootfs / /
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 LANG=C.UTF-8 \
    PATH=/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
WORKDIR /opt/opschecks
COPY pyproject.toml conftest.py opschecks.toml ./
COPY opschecks/ opschecks/
COPY fixtures/ fixtures/
COPY checks/ checks/
COPY examples/ examples/
# The report, JUnit XML and local ledger land in reports/ (mount it to keep them).
RUN mkdir reports && chown opschecks reports
USER opschecks
ENTRYPOINT ["pytest"]

# The sandbox extra's additions (requirements-sandbox.lock), installed apart (--prefix, laid out as the venv is)
# so that `sandbox` is `production` plus one copied layer: a change to the suite's files never reinstalls them.
FROM rootfs AS sandbox-venv
ARG PIP_INSTALL_OPTIONS=""
COPY requirements-sandbox.lock /tmp/requirements-sandbox.lock
RUN python3 -m venv /tmp/pip \
 && /tmp/pip/bin/pip --python /opt/venv/bin/python install --quiet --no-compile --no-deps $PIP_INSTALL_OPTIONS \
        --prefix /opt/sandbox -r /tmp/requirements-sandbox.lock \
 && PYTHONPATH=/opt/sandbox/lib/python3.11/site-packages /tmp/pip/bin/pip --python /opt/venv/bin/python check

FROM production AS sandbox
COPY --from=sandbox-venv /opt/sandbox/ /opt/venv/

# The default target, so that a plain `docker build .` is the production image.
FROM production
