/**
 * HTML as the Bayes tokenizer sees it: tags become spaces, comments vanish (so `vi<!-- -->agra`
 * reads as one word), script and style bodies are dropped; link targets and tag names are
 * collected as tokens of their own. Never throws.
 */
import { decodeHtmlEntities } from '../text/decode.js';

/** What an HTML part contributes: visible text, link targets and the tag names used. */
export interface HtmlParts {
  readonly text: string;
  readonly urls: string[];
  readonly tags: Set<string>;
}

const LINK_ATTRIBUTE = /\b(?:href|src|action)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))/gi;

/**
 * Reduces HTML to text (tags become spaces, comments vanish so `vi<!-- -->agra` reads as one
 * word, script and style bodies are dropped) and collects link targets and tag names.
 */
export function reduceHtml(html: string): HtmlParts {
  const urls: string[] = [];
  const tags = new Set<string>();
  const stripped = html
    .replace(/<!--[\s\S]*?-->/g, '')
    .replace(/<(script|style)\b[\s\S]*?<\/\1\s*>/gi, ' ');
  const text = stripped.replace(
    /<\/?([a-z][a-z0-9]*)\b([^>]*)>/gi,
    (_all, tag: string, attributes: string) => {
      if (tags.size < 64) tags.add(tag.toLowerCase());
      if (attributes.length > 0 && urls.length < 64) {
        for (const m of attributes.matchAll(LINK_ATTRIBUTE)) {
          const url = m[1] ?? m[2] ?? m[3];
          if (url !== undefined && url !== '') urls.push(decodeHtmlEntities(url));
        }
      }
      return ' ';
    },
  );
  return { text: decodeHtmlEntities(text), urls, tags };
}
