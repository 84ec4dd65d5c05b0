/**
 * The documentation as the tests read it: README.md and every page under
 * docs/, and the heading anchors GitHub gives them.
 */
import { REPO } from "./supervisord.ts";

function pagesUnder(dir: string): string[] {
  return [...Deno.readDirSync(`${REPO}${dir}`)].flatMap((e) =>
    e.isDirectory
      ? pagesUnder(`${dir}/${e.name}`)
      : e.name.endsWith(".md")
      ? [`${dir}/${e.name}`]
      : []
  ).sort();
}

/** README.md and docs/**\/*.md, as paths relative to the repository. */
export const DOC_FILES: string[] = ["README.md", ...pagesUnder("docs")];

/** A documentation file's text; `path` relative to the repository. */
export function readDoc(path: string): string {
  return Deno.readTextFileSync(`${REPO}${path}`);
}

/** Every documentation file's text, joined. */
export function allDocs(): string {
  return DOC_FILES.map(readDoc).join("\n");
}

/** Markdown without its fenced code blocks (a `#` comment in one is no heading, a link in one no link). */
export function withoutCode(markdown: string): string {
  return markdown.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[ \t]*$/gm, "");
}

/** GitHub's anchors of a page's headings: lower case, punctuation but - and _ dropped, spaces to -, repeats numbered. */
export function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const m of withoutCode(markdown).matchAll(/^#{1,6} (.+?)#*[ \t]*$/gm)) {
    const slug = m[1].trim().toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, "").replace(/ /g, "-");
    const n = seen.get(slug) ?? 0;
    seen.set(slug, n + 1);
    out.add(n === 0 ? slug : `${slug}-${n}`);
  }
  return out;
}
