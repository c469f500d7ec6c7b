// Text of the ticketpage part of the client, in Bahasa Indonesia (id) and English (en);
// merged into the dictionaries by ../i18n.js.

export default {
  id: {},
  en: {},
};
