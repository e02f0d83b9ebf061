"""The issued certificate as a PDF document (SPEC C-5), and where its bytes are kept.

Made with reportlab in its invariant mode (no creation time or random document id in the
file), so the same certificate printed twice gives the same bytes and its SHA-256, which the
`Issued` event records, can be checked against the paper. Greek needs a font with Greek glyphs:
DejaVu Sans (Debian `fonts-dejavu-core`) from `CERTIFICATES_FONT_DIR`, embedded as a subset.

The bytes are kept in the service's own PostgreSQL (`certificate_documents`), written before the
`Issued` event is saved and keyed by the certificate and the document's hash: if two clerks
issue at once, only one `Issued` is saved and the document served is always the one whose hash
it names (the loser's row is never read).
"""

from __future__ import annotations

import io
import threading
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import LiteralString, Protocol
from uuid import UUID

from eventsourcing.postgres import PostgresDatastore
from portal_events.schema import creating_tables
from portal_web.service import Runtime
from psycopg.sql import SQL, Composed, Identifier
from reportlab.graphics import renderPDF
from reportlab.graphics.barcode.qr import QrCodeWidget
from reportlab.graphics.shapes import Drawing
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.lib.utils import simpleSplit
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

DEFAULT_FONT_DIR = "/usr/share/fonts/truetype/dejavu"
REGULAR, BOLD = "DejaVuSans", "DejaVuSans-Bold"

PAGE_WIDTH, PAGE_HEIGHT = A4
MARGIN = 20 * mm
TEXT_WIDTH = PAGE_WIDTH - 2 * MARGIN
FOOTER_HEIGHT = 55 * mm  # the verification block and the QR code, on the last page
QR_SIZE = 32 * mm
BODY_SIZE, BODY_LEADING = 11, 16


class FontsMissing(RuntimeError):
    """The fonts with Greek glyphs are not installed where the settings say."""


@dataclass(frozen=True)
class PrintedCertificate:
    """Everything printed on one certificate."""

    municipality_name: str
    department_name: str
    title: str
    body: str
    number: str
    protocol_number: str
    protocol_date: date
    issue_date: date
    verification_code: str
    verification_url: str


def greek_date(day: date) -> str:
    return day.strftime("%d/%m/%Y")


class CertificateRenderer:
    """Renders certificates with the DejaVu fonts of `font_dir` (registered once per process)."""

    _registering = threading.Lock()

    def __init__(self, font_dir: str | Path = DEFAULT_FONT_DIR) -> None:
        font_dir = Path(font_dir)
        files = {REGULAR: font_dir / "DejaVuSans.ttf", BOLD: font_dir / "DejaVuSans-Bold.ttf"}
        missing = [str(path) for path in files.values() if not path.is_file()]
        if missing:
            raise FontsMissing(
                f"fonts with Greek glyphs not found: {', '.join(missing)} (install Debian's "
                "fonts-dejavu-core or set CERTIFICATES_FONT_DIR)"
            )
        with self._registering:
            registered = set(pdfmetrics.getRegisteredFontNames())
            for name, path in files.items():
                if name not in registered:
                    pdfmetrics.registerFont(TTFont(name, str(path)))

    def render(self, certificate: PrintedCertificate) -> bytes:
        buffer = io.BytesIO()
        canvas = Canvas(buffer, pagesize=A4, invariant=True, pageCompression=1)
        canvas.setTitle(f"{certificate.title} – {certificate.number}")
        canvas.setAuthor(certificate.municipality_name)
        canvas.setSubject(f"Αρ. πρωτ. {certificate.protocol_number}")
        y = self._header(canvas, certificate)
        y = self._title(canvas, certificate.title, y)
        self._body(canvas, certificate.body, y)
        self._footer(canvas, certificate)
        canvas.showPage()
        canvas.save()
        return buffer.getvalue()

    @staticmethod
    def _header(canvas: Canvas, c: PrintedCertificate) -> float:
        top = PAGE_HEIGHT - MARGIN
        canvas.setFont(BOLD, 9)
        canvas.drawString(MARGIN, top, "ΕΛΛΗΝΙΚΗ ΔΗΜΟΚΡΑΤΙΑ")
        canvas.setFont(BOLD, 13)
        canvas.drawString(MARGIN, top - 16, c.municipality_name)
        canvas.setFont(REGULAR, 10)
        canvas.drawString(MARGIN, top - 31, c.department_name)
        right = PAGE_WIDTH - MARGIN
        canvas.setFont(REGULAR, 10)
        canvas.drawRightString(right, top, f"Αριθ. Πρωτ.: {c.protocol_number}")
        canvas.drawRightString(right, top - 14, f"Ημ/νία πρωτ.: {greek_date(c.protocol_date)}")
        canvas.drawRightString(right, top - 28, f"Αριθ. αίτησης: {c.number}")
        return top - 70

    @staticmethod
    def _title(canvas: Canvas, title: str, y: float) -> float:
        canvas.setFont(BOLD, 15)
        for line in simpleSplit(title, BOLD, 15, TEXT_WIDTH):
            canvas.drawCentredString(PAGE_WIDTH / 2, y, line)
            y -= 20
        return y - 16

    @staticmethod
    def _body(canvas: Canvas, body: str, y: float) -> None:
        """The text, wrapped; a new page when it would reach the last page's footer."""
        canvas.setFont(REGULAR, BODY_SIZE)
        for paragraph in body.split("\n"):
            lines = simpleSplit(paragraph, REGULAR, BODY_SIZE, TEXT_WIDTH) or [""]
            for line in lines:
                if y < MARGIN + FOOTER_HEIGHT:
                    canvas.showPage()
                    canvas.setFont(REGULAR, BODY_SIZE)
                    y = PAGE_HEIGHT - MARGIN
                canvas.drawString(MARGIN, y, line)
                y -= BODY_LEADING

    @staticmethod
    def _footer(canvas: Canvas, c: PrintedCertificate) -> None:
        y = MARGIN + FOOTER_HEIGHT - 12
        canvas.setFont(REGULAR, 10)
        canvas.drawString(MARGIN, y, f"Ημερομηνία έκδοσης: {greek_date(c.issue_date)}")
        canvas.setFont(BOLD, 11)
        canvas.drawString(MARGIN, y - 18, f"Κωδικός επαλήθευσης: {c.verification_code}")
        canvas.setFont(REGULAR, 8)
        lines = simpleSplit(
            f"Επαληθεύστε τη γνησιότητα στο {c.verification_url}",
            REGULAR,
            8,
            TEXT_WIDTH - QR_SIZE - 10 * mm,
        )
        for index, line in enumerate(lines):
            canvas.drawString(MARGIN, y - 34 - 11 * index, line)
        qr = QrCodeWidget(c.verification_url, barWidth=QR_SIZE, barHeight=QR_SIZE, barLevel="M")
        drawing = Drawing(QR_SIZE, QR_SIZE)
        drawing.add(qr)
        renderPDF.draw(drawing, canvas, PAGE_WIDTH - MARGIN - QR_SIZE, MARGIN)


# --- storage --------------------------------------------------------------------------------


class DocumentStore(Protocol):
    """Where issued documents' bytes are kept, by certificate and hash."""

    def store(self, certificate_id: UUID, sha256: str, content: bytes) -> None: ...

    def fetch(self, certificate_id: UUID, sha256: str) -> bytes | None: ...


TABLE = "certificate_documents"

_CREATE: LiteralString = """
CREATE TABLE IF NOT EXISTS {table} (
    certificate_id uuid NOT NULL,
    sha256 text NOT NULL,
    content bytea NOT NULL,
    stored_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (certificate_id, sha256)
)"""
_INSERT: LiteralString = (
    "INSERT INTO {table} (certificate_id, sha256, content) "
    "VALUES (%(certificate_id)s, %(sha256)s, %(content)s) ON CONFLICT DO NOTHING"
)
_SELECT: LiteralString = (
    "SELECT content FROM {table} WHERE certificate_id = %(certificate_id)s AND sha256 = %(sha256)s"
)


class PostgresDocumentStore:
    """The table `certificate_documents` in the service's database (committed on store)."""

    def __init__(self, datastore: PostgresDatastore) -> None:
        self.datastore = datastore
        with datastore.transaction(commit=True) as cursor:
            cursor.execute(self._sql(_CREATE))

    @classmethod
    def of(cls, runtime: Runtime) -> PostgresDocumentStore:
        """The store in the database of the runtime's Application (a `Service` resource)."""
        datastore = runtime.application.recorder.datastore
        return creating_tables(lambda: cls(datastore))

    def _sql(self, statement: LiteralString) -> Composed:
        return SQL(statement).format(table=Identifier(self.datastore.schema, TABLE))

    def store(self, certificate_id: UUID, sha256: str, content: bytes) -> None:
        params = {"certificate_id": certificate_id, "sha256": sha256, "content": content}
        with self.datastore.transaction(commit=True) as cursor:
            cursor.execute(self._sql(_INSERT), params)

    def fetch(self, certificate_id: UUID, sha256: str) -> bytes | None:
        params = {"certificate_id": certificate_id, "sha256": sha256}
        with self.datastore.get_connection() as connection, connection.cursor() as cursor:
            cursor.execute(self._sql(_SELECT), params)
            row = cursor.fetchone()
        return None if row is None else bytes(row["content"])
