"""The ``recordings`` section of the settings: capture spool, conversion, storage, links, retention."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from cti.settings_base import Section


class RecordingsSettings(Section):
    enabled: bool = True
    # Where MixMonitor writes <Uniqueid>.<ext> (Asterisk: /var/spool/asterisk/monitor, shared with the layer).
    capture_dir: Path = Path("var/recordings/spool")
    capture_extensions: list[str] = ["wav", "raw"]
    raw_rate: int = Field(8000, ge=8000, le=48000)   # MixMonitor's D option writes headerless 16-bit stereo
    settle_seconds: float = Field(1.0, ge=0)         # a capture file must stop growing this long first
    store: Literal["local", "s3"] = "local"          # s3: an S3-compatible object store (MinIO, Ceph, OSS, AWS)
    store_dir: Path = Path("var/recordings")         # converted files by date: YYYY/MM/DD/<Uniqueid>.<fmt>
    s3_endpoint_url: str = ""                        # e.g. http://minio.internal:9000 (required for store: s3)
    s3_bucket: str = ""
    s3_region: str = "us-east-1"                     # part of the signature; MinIO accepts us-east-1
    s3_access_key: str = ""                          # secrets: prefer CTI_RECORDINGS_S3_ACCESS_KEY / _S3_SECRET_KEY
    s3_secret_key: SecretStr = SecretStr("")         # never shown in reprs or logs
    s3_path_style: bool = True                       # <endpoint>/<bucket>/<key>; false: <bucket>.<host>/<key>
    s3_prefix: str = ""                              # object keys start with this (e.g. recordings/)
    s3_timeout: float = Field(60.0, gt=0)            # seconds for one upload, download or delete
    catalogue: Path = Path("var/recordings/catalogue.db")
    format: Literal["opus", "mp3"] = "opus"
    bitrate: str = "24k"
    target_dbfs: float = Field(-20.0, le=0)          # loudness after normalisation (whole call, RMS)
    headroom_db: float = Field(1.0, ge=0)            # the loudest peak stays this far below full scale
    silence_dbfs: float = Field(-50.0, le=0)         # leading/trailing audio quieter than this is trimmed
    keep_original: bool = False                      # after a good conversion; a failed one is always kept
    workers: int = Field(2, ge=1, le=64)
    max_attempts: int = Field(5, ge=1)
    retry_min: float = Field(5.0, gt=0)
    retry_max: float = Field(600.0, gt=0)
    ffmpeg: str = "ffmpeg"
    link_secret: str = ""                            # empty: made once, kept in <store_dir>/.link-secret
    link_ttl: int = Field(7 * 86400, ge=60)          # seconds a signed download link works
    public_base_url: str = ""                        # empty: http://<http.bind>:<http.port>
    retention_days: int = Field(180, ge=0)           # 0 keeps recordings forever
    retention_interval: float = Field(3600.0, gt=0)

    @model_validator(mode="after")
    def _s3_complete(self):
        if self.store == "s3":
            missing = [k for k in ("s3_endpoint_url", "s3_bucket", "s3_access_key") if not getattr(self, k)]
            missing += [] if self.s3_secret_key.get_secret_value() else ["s3_secret_key"]
            if missing:
                raise ValueError(f"store: s3 needs {', '.join(missing)}")
            if not re.match(r"https?://[^/]+", self.s3_endpoint_url):
                raise ValueError("s3_endpoint_url must look like http(s)://host[:port]")
        return self

    @field_validator("bitrate")
    @classmethod
    def _bitrate(cls, value: str) -> str:
        if not re.fullmatch(r"[1-9]\d{0,2}k", value):
            raise ValueError("bitrate must look like 24k (6k..510k)")
        return value

    @field_validator("capture_extensions", mode="before")
    @classmethod
    def _split(cls, value):
        return [v.strip().lstrip(".") for v in value.split(",") if v.strip()] if isinstance(value, str) else value
