# mailcapture service image: slim Python, non-root, runs `mailcapture serve`.
#
#   docker build -t mailcapture .
#   docker run -d -p 2525:2525 -v mailcapture-data:/data \
#     -e MAILCAPTURE_DATABASE_URL=postgresql://user:pass@db/mailcapture \
#     -e MAILCAPTURE_SMTP_URL=smtp://relay:25 mailcapture
#
# The register is baked in from config/; mount your own over /app/config and run
# `docker run --rm ... mailcapture init` and `... mailcapture load` before `serve`.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    MAILCAPTURE_CONFIG=/app/config \
    MAILCAPTURE_MAIL_DIR=/data/mail/outbox \
    MAILCAPTURE_DATABASE_URL=sqlite:////data/mailcapture.db \
    MAILCAPTURE_LISTEN=0.0.0.0:2525

WORKDIR /app
COPY pyproject.toml README.md ./
COPY mailcapture ./mailcapture
COPY migrations ./migrations
COPY templates ./templates
COPY config ./config
# Installed in place (-e): migrations/ and templates/ are found beside the package.
RUN pip install --no-cache-dir -e '.[postgres]' \
    && useradd --system --home-dir /data --create-home mailcapture

USER mailcapture
VOLUME ["/data"]
EXPOSE 2525
STOPSIGNAL SIGTERM
ENTRYPOINT ["mailcapture"]
CMD ["serve"]
