# mailcapture service image.
#
#   docker build -t mailcapture .
#   docker compose up          # PostgreSQL 16 and mailcapture on the sample register
#
# Two stages: the first builds the wheel from the checkout, the second installs only that
# wheel (with the PostgreSQL driver) into a virtual environment on a slim Python, with the
# libraries WeasyPrint needs to lay out the report PDF (Pango, HarfBuzz) and a font.
# The entrypoint brings the database schema up to date (`mailcapture init`, idempotent),
# loads the register from $MAILCAPTURE_CONFIG when that is set (mount your register folder
# there), then runs the command: `serve` unless another is given.

FROM python:3.11-slim-bookworm AS build
WORKDIR /src
RUN pip install --no-cache-dir build==1.6.1
COPY pyproject.toml README.md LICENSE ./
COPY mailcapture ./mailcapture
RUN python -m build --wheel --outdir /dist .

FROM python:3.11-slim-bookworm AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/mailcapture/bin:$PATH \
    MAILCAPTURE_DATABASE_URL=sqlite:////data/mailcapture.db \
    MAILCAPTURE_MAIL_DIR=/data/mail/outbox \
    MAILCAPTURE_LISTEN=0.0.0.0:2525

# Pango and HarfBuzz for WeasyPrint (the report PDF); DejaVu so there is a font at all.
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz0b libharfbuzz-subset0 fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/*

COPY --from=build /dist /dist
RUN python -m venv /opt/mailcapture \
    && /opt/mailcapture/bin/pip install --no-cache-dir "$(ls /dist/mailcapture-*.whl)[postgres]" \
    && rm -rf /dist \
    && useradd --system --uid 10001 --user-group --home-dir /data --create-home mailcapture

COPY docker/entrypoint.sh /usr/local/bin/mailcapture-entrypoint
WORKDIR /data
USER 10001:10001
VOLUME ["/data"]
EXPOSE 2525
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=10s --start-period=30s --retries=3 \
    CMD ["mailcapture", "health"]
ENTRYPOINT ["mailcapture-entrypoint"]
CMD ["serve"]
