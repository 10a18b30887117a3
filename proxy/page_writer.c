/* proxy/page_writer.c — the writer the pages are built with, the one style
 * sheet and page frame, and the pieces several pages share. */
#include "page_writer.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void pw_init(struct page_writer *w, struct http_buf *b)
{
    w->b = b;
    w->start = b->len;
    w->err = 0;
}

int pw_done(struct page_writer *w)
{
    if (w->err) {
        w->b->len = w->start;
        if (w->b->data)
            w->b->data[w->start] = '\0';
    }
    return w->err;
}

void pw_puts(struct page_writer *w, const char *s)
{
    if (!w->err && http_buf_puts(w->b, s) != 0)
        w->err = PAGES_ENOMEM;
}

void pw_printf(struct page_writer *w, const char *fmt, ...)
{
    if (w->err)
        return;
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    /* only short formatted pieces go through here; long text uses pw_puts/pw_esc */
    if (n < 0 || (size_t)n >= sizeof tmp)
        w->err = PAGES_EINVAL;
    else if (http_buf_append(w->b, tmp, (size_t)n) != 0)
        w->err = PAGES_ENOMEM;
}

void pw_esc(struct page_writer *w, const char *s)
{
    if (!w->err && pages_html_escape(w->b, s) != 0)
        w->err = PAGES_ENOMEM;
}

void pw_json(struct page_writer *w, const char *s)
{
    pw_puts(w, "\"");
    for (const char *p = s ? s : ""; *p && !w->err; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '"' || c == '\\')
            pw_printf(w, "\\%c", c);
        else if (c < 0x20 || c == 0x7f)
            pw_printf(w, "\\u%04x", c);
        else if (http_buf_append(w->b, p, 1) != 0)
            w->err = PAGES_ENOMEM;
    }
    pw_puts(w, "\"");
}

/* ---- shared page frame ------------------------------------------------------ */

/* One style sheet for every page. Long host names wrap only where they must
 * (overflow-wrap:anywhere), never letter by letter (no break-all). */
static const char page_css[] =
    "*{box-sizing:border-box}"
    "body{font:16px/1.5 system-ui,-apple-system,'Segoe UI',sans-serif;margin:0;"
    "background:#f6f6f4;color:#1d1d1b}"
    "main{max-width:52rem;margin:1.5rem auto;padding:0 1rem}"
    "main.wide{max-width:74rem}"
    "h1{font-size:1.5rem;line-height:1.3;margin:.4rem 0;overflow-wrap:anywhere}"
    "h2{font-size:1.15rem;margin:1.6rem 0 .5rem}"
    "code,pre{font:14px/1.4 ui-monospace,'DejaVu Sans Mono',monospace;overflow-wrap:anywhere}"
    "pre{background:#fff;border:1px solid #ccc;padding:.6rem;white-space:pre-wrap}"
    "table{border-collapse:collapse;width:100%}"
    "th,td{text-align:left;vertical-align:top;padding:.3rem .5rem;border-bottom:1px solid #ddd}"
    "th{font-weight:600}td.n{text-align:right;font-variant-numeric:tabular-nums;"
    "white-space:nowrap}"
    "td,.reason{overflow-wrap:anywhere}"
    "table.kv{table-layout:fixed}table.kv th{width:30%}"
    "table.num td.n{width:6rem}"
    "td.host,td.host code{overflow-wrap:break-word}td.host{min-width:8rem}td.t{white-space:nowrap}"
    ".box{border-left:6px solid var(--c);background:#fff;padding:.6rem 1rem}"
    ".reason{font-size:1.1rem;font-weight:600;color:var(--c)}"
    ".tag{display:inline-block;padding:0 .4rem;border-radius:.3rem;color:#fff;"
    "background:var(--c);font-size:.85rem;white-space:nowrap}"
    ".cls-dane{--c:#b3261e}.cls-dnssec{--c:#7b1fa2}.cls-clock{--c:#8a5a00}"
    ".cls-nxdomain{--c:#546e7a}.cls-unreachable{--c:#546e7a}.cls-port{--c:#1f5fa8}"
    ".grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(20rem,1fr));gap:0 2rem}"
    ".chart{display:block;width:100%;height:auto;background:#fff;border:1px solid #ddd}"
    ".chartbox{max-width:46rem}.axis{display:flex;justify-content:space-between}"
    ".key span{display:inline-block;width:.8rem;height:.8rem;margin:0 .3rem 0 .8rem}"
    ".muted{color:#666;font-size:.9rem}"
    "@media (max-width:40rem){main{margin:.8rem auto}h1{font-size:1.25rem}"
    "table.kv th{width:38%}"
    "table.ev tr{display:block;border-bottom:1px solid #ccc;padding:.3rem 0}"
    "table.ev th{display:none}table.ev td{display:block;border:0;padding:.1rem .5rem}}";

void pw_page_begin_main(struct page_writer *w, const char *title_prefix, const char *title_tail,
                        const char *main_class)
{
    pw_puts(w, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
               "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
               "<meta name=\"robots\" content=\"noindex\"><title>");
    pw_esc(w, title_prefix);
    if (title_tail)
        pw_esc(w, title_tail);
    pw_puts(w, "</title><style>");
    pw_puts(w, page_css);
    pw_puts(w, "</style></head>\n<body><main");
    if (main_class) {
        pw_puts(w, " class=\"");
        pw_puts(w, main_class);
        pw_puts(w, "\"");
    }
    pw_puts(w, ">\n");
}

void pw_page_begin(struct page_writer *w, const char *title_prefix, const char *title_tail)
{
    pw_page_begin_main(w, title_prefix, title_tail, NULL);
}

void pw_page_end(struct page_writer *w)
{
    pw_puts(w, "<p class=\"muted\">daneguard — DNSSEC-validating resolver and DANE-enforcing "
               "proxy</p>\n</main></body></html>\n");
}

/* "host:port", with brackets around an IPv6 literal; escaped. */
void pw_hostport(struct page_writer *w, const char *host, uint16_t port)
{
    int v6 = strchr(host, ':') != NULL;
    if (v6)
        pw_puts(w, "[");
    pw_esc(w, host);
    pw_printf(w, "%s:%u", v6 ? "]" : "", (unsigned)port);
}

/* s as one shell word, HTML-escaped: as it is when it holds only characters
 * a shell leaves alone, else in single quotes. */
void pw_shell_word(struct page_writer *w, const char *s)
{
    static const char safe[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                               "0123456789/._-+:@,%=";
    if (*s && strspn(s, safe) == strlen(s)) {
        pw_esc(w, s);
        return;
    }
    pw_puts(w, "&#39;");
    for (const char *p = s; *p && !w->err; p++) {
        if (*p == '\'') {
            pw_puts(w, "&#39;\\&#39;&#39;");
        } else {
            char one[2] = {*p, '\0'};
            pw_esc(w, one);
        }
    }
    pw_puts(w, "&#39;");
}

/* A short label for the status page's event lists. */
const char *pw_class_label(enum pages_class c)
{
    switch (c) {
    case PAGES_CLASS_DANE:
        return "DANE mismatch";
    case PAGES_CLASS_DNSSEC:
        return "DNSSEC failure";
    case PAGES_CLASS_CLOCK:
        return "clock not synchronized";
    case PAGES_CLASS_NXDOMAIN:
        return "no such name";
    case PAGES_CLASS_UNREACHABLE:
        return "unreachable";
    case PAGES_CLASS_PORT:
        return "port not allowed";
    }
    return "?";
}
