# The opschecks suite as an image, `pytest` its entrypoint: pass any marker or option.
#   docker build -t opschecks .
#   docker run --rm opschecks -m daily --sandbox                       # the daily checks on the built-in sandbox
#   docker run --rm -v "$PWD/opschecks.toml:/opt/opschecks/opschecks.toml:ro" -v "$HOME/.kube:/home/opschecks/.kube:ro" \
#       -e AWS_PROFILE -v "$HOME/.aws:/home/opschecks/.aws:ro" -v "$PWD/reports:/opt/opschecks/reports" opschecks -m daily
# Dependencies are installed pinned from requirements.lock (the sandbox extra included, so --sandbox works inside).
# CI builds it `--from` a locally made Debian bookworm + python3 base with a local wheelhouse (see .ci/run), as no
# registry is reachable there: PIP_INSTALL_OPTIONS="--no-index --find-links=/wheels".
FROM docker.io/library/python:3.11-slim-bookworm

ARG PIP_INSTALL_OPTIONS=""
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 \
    PATH=/opt/venv/bin:$PATH
COPY requirements.lock /tmp/requirements.lock
RUN python3 -m venv /opt/venv \
 && pip install --quiet $PIP_INSTALL_OPTIONS -r /tmp/requirements.lock \
 && rm /tmp/requirements.lock \
 && useradd --create-home --uid 10001 opschecks

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
