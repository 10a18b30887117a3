/* proxy/page_writer.h — private to proxy/pages*.c: the writer every page is
 * built with (a sticky error: a run of calls, one check) and the frame and
 * pieces the pages share. Not in include/: nothing outside the pages uses it. */
#ifndef DANEGUARD_PAGE_WRITER_H
#define DANEGUARD_PAGE_WRITER_H

#include <stdint.h>

#include "pages.h"

/* A writer with a sticky error: build a page with a run of calls, check once.
 * On failure the buffer is cut back to where the page began. */
struct page_writer {
    struct http_buf *b;
    size_t start;
    int err;
};

void pw_init(struct page_writer *w, struct http_buf *b);
/* 0, or the first error; on error the buffer is cut back to where it began. */
int pw_done(struct page_writer *w);
void pw_puts(struct page_writer *w, const char *s);
/* short formatted pieces only (under 512 bytes) */
void pw_printf(struct page_writer *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* s HTML-escaped */
void pw_esc(struct page_writer *w, const char *s);
/* s as a JSON string, quotes included */
void pw_json(struct page_writer *w, const char *s);
/* "host:port", brackets around an IPv6 literal; escaped */
void pw_hostport(struct page_writer *w, const char *host, uint16_t port);
/* s as one shell word, HTML-escaped */
void pw_shell_word(struct page_writer *w, const char *s);

/* The page frame: doctype, head with the one style sheet, <main> (with a
 * class, or none); and its end. */
void pw_page_begin_main(struct page_writer *w, const char *title_prefix, const char *title_tail,
                        const char *main_class);
void pw_page_begin(struct page_writer *w, const char *title_prefix, const char *title_tail);
void pw_page_end(struct page_writer *w);

/* The words on a refusal class's tag. */
const char *pw_class_label(enum pages_class c);

#endif
