// Text of the forms part of the client, in Bahasa Indonesia (id) and English (en);
// merged into the dictionaries by ../i18n.js.

export default {
  id: {
    // What a field's own check says under it (ui.js validationMessage).
    "forms.choose": "Pilih salah satu.",
    "forms.check": "Centang kotak ini untuk melanjutkan.",
    "forms.file": "Pilih berkas.",
    "forms.too_short": "Minimal {n} karakter (sekarang {len}).",
    "forms.too_long": "Maksimal {n} karakter (sekarang {len}).",
    "forms.number": "Masukkan angka.",
    "forms.step": "Harus kelipatan {n}.",
    "forms.not_before": "Paling awal {v}.",
    "forms.not_after": "Paling lambat {v}.",
    // Formats a pattern asks for, said in words.
    "forms.phone": "Nomor telepon: 5–30 karakter berupa angka, boleh diawali +, dengan spasi, tanda hubung atau kurung.",
    "forms.username": "Hanya huruf, angka, titik, garis bawah, @ dan tanda hubung, tanpa spasi.",
    "forms.unit_code": "Hanya huruf, angka, titik, garis bawah dan tanda hubung, tanpa spasi.",
    "forms.priority_code": "Diawali huruf kecil, lalu huruf kecil, angka atau garis bawah (mis. tinggi atau p1_kritis).",
    "forms.host": "Nama server tanpa spasi atau garis miring, mis. smtp.kominfo.go.id.",
    // The dialog after creating a user (the reset dialog keeps "Atur ulang kata sandi").
    "users.created_title": "Pengguna dibuat: kata sandi sementara",
  },
  en: {
    "forms.choose": "Choose one.",
    "forms.check": "Tick this box to continue.",
    "forms.file": "Choose a file.",
    "forms.too_short": "At least {n} characters (now {len}).",
    "forms.too_long": "At most {n} characters (now {len}).",
    "forms.number": "Enter a number.",
    "forms.step": "Must be a multiple of {n}.",
    "forms.not_before": "No earlier than {v}.",
    "forms.not_after": "No later than {v}.",
    "forms.phone": "Phone number: 5–30 characters of digits, optionally starting with +, with spaces, hyphens or brackets.",
    "forms.username": "Only letters, digits, dots, underscores, @ and hyphens, no spaces.",
    "forms.unit_code": "Only letters, digits, dots, underscores and hyphens, no spaces.",
    "forms.priority_code": "A lower-case letter first, then lower-case letters, digits or underscores (e.g. high or p1_critical).",
    "forms.host": "A server name without spaces or slashes, e.g. smtp.example.go.id.",
    "users.created_title": "User created: temporary password",
  },
};
