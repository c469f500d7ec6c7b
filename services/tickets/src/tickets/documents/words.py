"""The words of the per-ticket documents, in Bahasa Indonesia (the default) and English.

The words every document shares (statuses, channels, the footer) are
``helpdesk_documents.labels``'; these are the two forms' own.
"""

from __future__ import annotations

from helpdesk_documents.labels import Language

WORDS: dict[Language, dict[str, str]] = {
    "id": {
        "submission_title": "Formulir Pengajuan Tiket",
        "report_title": "Berita Acara Penyelesaian Pekerjaan",
        "number": "Nomor tiket",
        "title": "Judul",
        "description": "Uraian permasalahan",
        "category": "Kategori",
        "priority": "Prioritas",
        "unit": "Unit kerja (SKPD)",
        "requester": "Pemohon",
        "contact": "Narahubung (PIC)",
        "contact_phone": "Telepon narahubung",
        "contact_email": "E-mail narahubung",
        "channel": "Kanal pengajuan",
        "submitted_at": "Tanggal pengajuan",
        "status": "Status saat ini",
        "attachments": "Lampiran",
        "no_attachments": "Tidak ada lampiran",
        "file_name": "Nama berkas",
        "file_size": "Ukuran",
        "completed_at": "Tanggal selesai",
        "agent": "Petugas penanggung jawab",
        "actions": "Ringkasan tindakan",
        "no_actions": "Tidak ada tindakan tercatat",
        "time": "Waktu",
        "who": "Oleh",
        "what": "Tindakan",
        "result": "Hasil pekerjaan",
        "report_intro": (
            "Dengan ini dinyatakan bahwa pekerjaan atas tiket berikut telah diselesaikan"
            " oleh petugas TIK dengan rincian sebagai berikut."
        ),
        "report_closing": (
            "Demikian berita acara ini dibuat dengan sebenarnya untuk dipergunakan"
            " sebagaimana mestinya."
        ),
        "sign_agent": "Petugas TIK",
        "sign_unit": "Perwakilan SKPD",
        "place_blank": "....................",
    },
    "en": {
        "submission_title": "Ticket Submission Form",
        "report_title": "Work Completion Report",
        "number": "Ticket number",
        "title": "Title",
        "description": "Description of the problem",
        "category": "Category",
        "priority": "Priority",
        "unit": "Unit (SKPD)",
        "requester": "Requester",
        "contact": "Contact person (PIC)",
        "contact_phone": "Contact phone",
        "contact_email": "Contact e-mail",
        "channel": "Channel",
        "submitted_at": "Submitted at",
        "status": "Current status",
        "attachments": "Attachments",
        "no_attachments": "No attachments",
        "file_name": "File name",
        "file_size": "Size",
        "completed_at": "Completed at",
        "agent": "Responsible agent",
        "actions": "Summary of actions",
        "no_actions": "No actions recorded",
        "time": "Time",
        "who": "By",
        "what": "Action",
        "result": "Result of the work",
        "report_intro": (
            "This is to certify that the work on the following ticket has been completed"
            " by the IT staff as detailed below."
        ),
        "report_closing": "This report has been drawn up truthfully, to be used as appropriate.",
        "sign_agent": "IT Officer",
        "sign_unit": "Unit (SKPD) representative",
        "place_blank": "....................",
    },
}

# What a public timeline line says happened, by its kind ({name}: the new assignee; {file}:
# a file's name and size).
ACTIONS: dict[Language, dict[str, str]] = {
    "id": {
        "created": "Tiket diajukan",
        "edit": "Data tiket diubah",
        "claim": "Tiket diambil oleh petugas",
        "accept": "Tiket diverifikasi dan diterima",
        "assign": "Ditugaskan kepada {name}",
        "reassign": "Dialihkan kepada {name}",
        "reject": "Tiket ditolak",
        "pending": "Ditunda, menunggu pemohon",
        "resume": "Pengerjaan dilanjutkan",
        "resolve": "Pekerjaan diselesaikan",
        "confirm": "Penyelesaian dikonfirmasi pemohon",
        "reopen": "Tiket dibuka kembali",
        "close": "Tiket ditutup",
        "auto_close": "Tiket ditutup otomatis",
        "comment": "Balasan",
        "attachment_added": "Berkas dilampirkan: {file}",
        "attachment_removed": "Berkas dihapus: {file}",
        "attachment_quarantined": "Berkas ditarik karena terdeteksi malware: {file}",
        "status": "status",
        "note": "alasan",
    },
    "en": {
        "created": "Ticket submitted",
        "edit": "Ticket details changed",
        "claim": "Ticket taken by an agent",
        "accept": "Ticket verified and accepted",
        "assign": "Assigned to {name}",
        "reassign": "Reassigned to {name}",
        "reject": "Ticket rejected",
        "pending": "On hold, waiting for the requester",
        "resume": "Work resumed",
        "resolve": "Work completed",
        "confirm": "Completion confirmed by the requester",
        "reopen": "Ticket reopened",
        "close": "Ticket closed",
        "auto_close": "Ticket closed automatically",
        "comment": "Reply",
        "attachment_added": "File attached: {file}",
        "attachment_removed": "File removed: {file}",
        "attachment_quarantined": "File withdrawn, malware detected: {file}",
        "status": "status",
        "note": "reason",
    },
}
