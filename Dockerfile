# mailcapture service image: slim Python, non-root, the checkout installed as a package.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    MAILCAPTURE_CONFIG=/app/config \
    MAILCAPTURE_MAIL_DIR=/data/mail/outbox \
    MAILCAPTURE_DATABASE_URL=sqlite:////data/mailcapture.db

WORKDIR /app
COPY pyproject.toml README.md ./
COPY mailcapture ./mailcapture
COPY migrations ./migrations
COPY templates ./templates
COPY config ./config
RUN pip install --no-cache-dir -e '.[postgres]' \
    && useradd --system --home /data --create-home mailcapture

USER mailcapture
VOLUME ["/data"]
ENTRYPOINT ["mailcapture"]
CMD ["status"]
