// Text of the ticketpage part of the client, in Bahasa Indonesia (id) and English (en);
// merged into the dictionaries by ../i18n.js.

export default {
  id: {
    "ticketpage.markdown_hint": "Markdown didukung: **tebal**, _miring_, daftar dengan - atau 1., [tautan](alamat), `kode`, > kutipan. Enter = baris baru.",
    "ticketpage.updated": "Diperbarui",
    "ticketpage.updated_by": "Diperbarui: {who} {what}",
    "ticketpage.stale": "Tiket ini diubah orang lain sejak formulir ini dibuka. Data terbaru sudah ditampilkan di halaman.",
    "ticketpage.stale_by": "Tiket ini diubah sejak formulir ini dibuka: {who} {what} ({when}). Data terbaru sudah ditampilkan di halaman.",
    "ticketpage.stale_retry": "Periksa perubahannya; kirim lagi untuk menerapkan tindakan Anda pada data terbaru, atau batalkan.",
    "ticketpage.stale_gone": "Tindakan \"{action}\" tidak lagi tersedia untuk tiket ini.",
  },
  en: {
    "ticketpage.markdown_hint": "Markdown works: **bold**, _italic_, lists with - or 1., [link](address), `code`, > quotes. Enter = new line.",
    "ticketpage.updated": "Updated",
    "ticketpage.updated_by": "Updated: {who} {what}",
    "ticketpage.stale": "Someone else changed this ticket since this form was opened. The latest data is shown on the page.",
    "ticketpage.stale_by": "This ticket changed since this form was opened: {who} {what} ({when}). The latest data is shown on the page.",
    "ticketpage.stale_retry": "Check the change; send again to apply your action to the latest data, or cancel.",
    "ticketpage.stale_gone": "The action \"{action}\" is no longer available for this ticket.",
  },
};
