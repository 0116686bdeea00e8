import PostalMime from 'postal-mime';

/** What the mailbox keeps of a message's content (the envelope is the server's). */
export interface ParsedContent {
  readonly from: string | undefined;
  readonly subject: string;
  /** ISO 8601, or undefined when the `Date` header is absent or unreadable. */
  readonly date: string | undefined;
  readonly text: string;
}

/** Bounds for the MIME parser, well inside what a message of the size limit could ask for. */
const mimeNestingDepthMax = 32;
const headersBytesMax = 256 * 1024;

/** A minimal HTML-to-text for a message with no plain-text part: tags out, the common entities decoded. */
function textOfHtml(html: string): string {
  return html
    .replace(/<(br|\/p|\/div|\/li|\/tr|\/h[1-6])\b[^>]*>/gi, '\n')
    .replace(/<[^>]*>/g, '')
    .replace(/&nbsp;/g, ' ')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, '&')
    .trim();
}

function isoTimeOf(date: string | undefined): string | undefined {
  if (date === undefined) return undefined;
  const time = Date.parse(date);
  return Number.isNaN(time) ? undefined : new Date(time).toISOString();
}

/**
 * Decodes a received message (RFC 5322 with MIME: encoded words, quoted-printable,
 * base64, charsets, multipart) into the fields the mailbox keeps. Rejects when the
 * message breaks the parser's nesting or header-size bounds.
 */
export async function parseMessage(raw: Uint8Array): Promise<ParsedContent> {
  const email = await PostalMime.parse(raw, {
    maxNestingDepth: mimeNestingDepthMax,
    maxHeadersSize: headersBytesMax,
    // An attached message stays an attachment: the mailbox shows the outer mail's text only.
    maxRfc822NestingDepth: 0,
    attachmentEncoding: 'arraybuffer',
  });
  const from = email.from?.address ?? email.from?.group?.[0]?.address;
  const text = email.text ?? (email.html === undefined ? '' : textOfHtml(email.html));
  return {
    from: from === undefined || from === '' ? undefined : from,
    subject: email.subject ?? '',
    date: isoTimeOf(email.date),
    // One line ending for every reader (SMTP carries CRLF).
    text: text.replace(/\r\n/g, '\n'),
  };
}
