/**
 * A cheap HTML reader for rules: one left-to-right scan over tags (indexOf, no DOM, no
 * backtracking regex) giving the visible text, the text hidden by CSS, the links with their
 * text, images, forms and a few structural counts. Wrong HTML only makes it see less.
 */
import { decodeHtmlEntities } from '../text/decode.js';

export interface HtmlLink {
  readonly href: string;
  /** Visible text inside the anchor, whitespace collapsed. */
  readonly text: string;
}

export interface HtmlInfo {
  /** Text a reader sees (tags removed, entities decoded, hidden elements left out). */
  readonly visibleText: string;
  /** Text inside elements styled invisible (display:none, font-size:0, …). */
  readonly hiddenText: string;
  readonly links: readonly HtmlLink[];
  readonly images: readonly string[];
  /** Form actions. */
  readonly forms: readonly string[];
  readonly tagCount: number;
  /** Zero-width and soft-hyphen characters in the text (word obfuscation). */
  readonly zeroWidthCount: number;
  readonly hasScript: boolean;
  readonly hasIframe: boolean;
  readonly hasObject: boolean;
  readonly hasMetaRefresh: boolean;
  readonly hasPasswordInput: boolean;
  /** Images carried inline as data: URIs. */
  readonly dataImages: number;
  /** Comments between letters of a word ("fr<!-- -->ee"). */
  readonly wordSplitComments: number;
  /** Tags that do not exist in HTML ("<xqzt>"), used to break words. */
  readonly unknownTags: number;
  /** Font tags or styles with a large size (size=+2…7, font-size ≥ 20px/pt). */
  readonly bigFonts: number;
}

const VOID = new Set([
  'br',
  'img',
  'hr',
  'meta',
  'input',
  'link',
  'area',
  'base',
  'col',
  'wbr',
  'source',
  'param',
  'embed',
  'track',
]);

const KNOWN = new Set([
  ...VOID,
  'a',
  'abbr',
  'address',
  'article',
  'aside',
  'b',
  'big',
  'blockquote',
  'body',
  'button',
  'caption',
  'center',
  'cite',
  'code',
  'colgroup',
  'dd',
  'del',
  'div',
  'dl',
  'dt',
  'em',
  'fieldset',
  'font',
  'footer',
  'form',
  'frame',
  'frameset',
  'h1',
  'h2',
  'h3',
  'h4',
  'h5',
  'h6',
  'head',
  'header',
  'html',
  'i',
  'iframe',
  'ins',
  'label',
  'legend',
  'li',
  'main',
  'map',
  'nav',
  'nobr',
  'noscript',
  'object',
  'ol',
  'optgroup',
  'option',
  'p',
  'pre',
  'q',
  's',
  'script',
  'section',
  'select',
  'small',
  'span',
  'strike',
  'strong',
  'style',
  'sub',
  'sup',
  'table',
  'tbody',
  'td',
  'textarea',
  'tfoot',
  'th',
  'thead',
  'title',
  'tr',
  'tt',
  'u',
  'ul',
  'blink',
  'marquee',
  'basefont',
  'dir',
  'menu',
  'xml',
  'svg',
  'path',
  'g',
  'picture',
  'figure',
  'figcaption',
  'summary',
  'details',
  'time',
  'mark',
  'o:p',
  'v:shape',
  'v:roundrect',
  'v:fill',
  'v:textbox',
  'v:rect',
  'v:imagedata',
  'center',
  'layer',
  'ilayer',
  'spacer',
  'x-apple-data-detectors',
]);

/** Tags whose content is never shown. */
const SKIP_CONTENT = ['style', 'script', 'title', 'head', 'xml', 'noscript'];

const BLOCK = new Set(['p', 'div', 'br', 'tr', 'li', 'td', 'h1', 'h2', 'h3', 'table', 'hr']);

/** One attribute value of a tag's attribute text, or null. */
export function getAttribute(attrs: string, name: string): string | null {
  const lower = attrs.toLowerCase();
  let from = 0;
  while (from < lower.length) {
    const at = lower.indexOf(name, from);
    if (at < 0) return null;
    from = at + name.length;
    const before = at === 0 ? ' ' : lower[at - 1];
    if (before !== undefined && !/[\s"'/]/.test(before)) continue;
    let i = from;
    while (
      i < attrs.length &&
      (attrs[i] === ' ' || attrs[i] === '\t' || attrs[i] === '\n' || attrs[i] === '\r')
    )
      i++;
    if (attrs[i] !== '=') continue;
    i++;
    while (i < attrs.length && /\s/.test(attrs[i] ?? '')) i++;
    const q = attrs[i];
    if (q === '"' || q === "'") {
      const end = attrs.indexOf(q, i + 1);
      return decodeHtmlEntities(attrs.slice(i + 1, end < 0 ? attrs.length : end));
    }
    let end = i;
    while (end < attrs.length && !/[\s>]/.test(attrs[end] ?? '')) end++;
    return decodeHtmlEntities(attrs.slice(i, end));
  }
  return null;
}

const HIDDEN_STYLE =
  /display\s*:\s*none|visibility\s*:\s*hidden|font-size\s*:\s*[01](?:\.\d+)?(?:px|pt|em)?\s*(?:;|$|!)|opacity\s*:\s*0(?:\.0+)?\s*(?:;|$)|max-height\s*:\s*0(?:px)?\s*(?:;|$)|(?:^|[;\s])(?:width|height)\s*:\s*0(?:px)?\s*(?:;|$)/i;

function isHiddenTag(name: string, attrs: string): boolean {
  if (attrs.length === 0 || !/style|hidden|size/i.test(attrs)) return false;
  const style = getAttribute(attrs, 'style');
  if (style !== null && HIDDEN_STYLE.test(style)) return true;
  if (name === 'font') {
    const size = getAttribute(attrs, 'size');
    if (size !== null && /^\s*[-]?0\s*$/.test(size)) return true;
  }
  return /\shidden(?:\s|=|$)/i.test(` ${attrs}`);
}

/** Analyses one HTML document; `maxTags` bounds the work on huge or hostile input. */
export function analyzeHtml(html: string, maxTags = 20000): HtmlInfo {
  const lower = html.toLowerCase();
  const visible: string[] = [];
  const hidden: string[] = [];
  const links: HtmlLink[] = [];
  const images: string[] = [];
  const forms: string[] = [];
  const stack: { name: string; hidden: boolean }[] = [];
  let hiddenDepth = 0;
  let tagCount = 0;
  let hasScript = false;
  let hasIframe = false;
  let hasObject = false;
  let hasMetaRefresh = false;
  let hasPasswordInput = false;
  let dataImages = 0;
  let wordSplitComments = 0;
  let unknownTags = 0;
  let bigFonts = 0;
  let anchor: { href: string; from: number } | null = null;

  const pushText = (raw: string): void => {
    if (raw.length === 0) return;
    const text = decodeHtmlEntities(raw);
    if (hiddenDepth > 0) hidden.push(text);
    else visible.push(text);
  };
  const closeAnchor = (): void => {
    if (anchor === null) return;
    const text = visible.slice(anchor.from).join('').replace(/\s+/g, ' ').trim();
    links.push({ href: anchor.href, text: text.slice(0, 300) });
    anchor = null;
  };

  let pos = 0;
  while (pos < html.length) {
    const lt = html.indexOf('<', pos);
    if (lt < 0) {
      pushText(html.slice(pos));
      break;
    }
    pushText(html.slice(pos, lt));
    if (lower.startsWith('<!--', lt)) {
      const end = html.indexOf('-->', lt + 4);
      const after = end < 0 ? html.length : end + 3;
      if (
        /\w$/.test(html.slice(Math.max(0, lt - 1), lt)) &&
        /^\w/.test(html.slice(after, after + 1))
      ) {
        wordSplitComments++;
      }
      pos = after;
      continue;
    }
    const gt = html.indexOf('>', lt + 1);
    if (gt < 0) {
      pushText(html.slice(lt));
      break;
    }
    const inner = html.slice(lt + 1, gt);
    pos = gt + 1;
    const m = /^(\/?)([a-zA-Z][a-zA-Z0-9:-]*)/.exec(inner);
    if (m === null) {
      // "<!DOCTYPE …>", "< 5" and such: a declaration is dropped, stray text kept.
      if (!inner.startsWith('!') && !inner.startsWith('?')) pushText(`<${inner}>`);
      continue;
    }
    tagCount++;
    if (tagCount > maxTags) break;
    const closing = m[1] === '/';
    const name = (m[2] ?? '').toLowerCase();
    const attrs = inner.slice(m[0].length);
    if (!KNOWN.has(name)) {
      unknownTags++;
      continue;
    }
    if (BLOCK.has(name) && hiddenDepth === 0) visible.push(' ');
    if (closing) {
      if (name === 'a') closeAnchor();
      for (let i = stack.length - 1; i >= 0 && i >= stack.length - 30; i--) {
        if (stack[i]?.name !== name) continue;
        for (const popped of stack.splice(i)) if (popped.hidden) hiddenDepth--;
        break;
      }
      continue;
    }
    if (SKIP_CONTENT.includes(name)) {
      if (name === 'script') hasScript = true;
      const close = lower.indexOf(`</${name}`, pos);
      if (close < 0) break;
      const closeEnd = html.indexOf('>', close);
      pos = closeEnd < 0 ? html.length : closeEnd + 1;
      continue;
    }
    switch (name) {
      case 'a':
      case 'area': {
        const href = getAttribute(attrs, 'href');
        if (name === 'a') closeAnchor();
        if (href !== null && href.trim() !== '') {
          if (name === 'a') anchor = { href: href.trim(), from: visible.length };
          else links.push({ href: href.trim(), text: getAttribute(attrs, 'alt') ?? '' });
        }
        break;
      }
      case 'img': {
        const src = getAttribute(attrs, 'src');
        if (src !== null) {
          if (/^\s*data:/i.test(src)) dataImages++;
          else images.push(src.trim());
        }
        const alt = getAttribute(attrs, 'alt');
        if (alt !== null && hiddenDepth === 0 && anchor !== null) visible.push(` ${alt} `);
        break;
      }
      case 'font': {
        const size = getAttribute(attrs, 'size');
        if (size !== null && /^\s*(?:\+[2-7]|[5-7])\s*$/.test(size)) bigFonts++;
        break;
      }
      case 'form':
        forms.push(getAttribute(attrs, 'action') ?? '');
        break;
      case 'input':
        if (/^\s*password\s*$/i.test(getAttribute(attrs, 'type') ?? '')) hasPasswordInput = true;
        break;
      case 'iframe':
      case 'frame':
        hasIframe = true;
        break;
      case 'object':
      case 'embed':
        hasObject = true;
        break;
      case 'meta':
        if (/refresh/i.test(getAttribute(attrs, 'http-equiv') ?? '')) hasMetaRefresh = true;
        break;
      default:
        break;
    }
    if (VOID.has(name) || attrs.trimEnd().endsWith('/')) continue;
    const hide = isHiddenTag(name, attrs);
    if (hide) hiddenDepth++;
    stack.push({ name, hidden: hide });
    if (stack.length > 500) {
      const dropped = stack.shift();
      if (dropped?.hidden === true) hiddenDepth--;
    }
  }
  closeAnchor();
  const visibleText = visible.join('').replace(/\s+/g, ' ').trim();
  // Only inside words: newsletters pad preheaders with runs of &zwnj; between spaces.
  const zeroWidth = visibleText.match(/[a-z][\u200b-\u200d\u2060\ufeff\u00ad]+(?=[a-z])/gi);
  return {
    visibleText: visibleText.replace(/[\u200b-\u200d\u2060\ufeff\u00ad]/g, ''),
    hiddenText: hidden.join(' ').replace(/\s+/g, ' ').trim(),
    links,
    images,
    forms,
    tagCount,
    zeroWidthCount: zeroWidth?.length ?? 0,
    hasScript,
    hasIframe,
    hasObject,
    hasMetaRefresh,
    hasPasswordInput,
    dataImages,
    wordSplitComments,
    unknownTags,
    bigFonts,
  };
}
