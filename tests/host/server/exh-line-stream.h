/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * A connection's stream as the listener hands it to libsoup, so that a
 * request body's plaintext secrets stay in buffers this code wipes.
 *
 * libsoup reads a request's header through a buffer of its own that it fills
 * with whole socket reads and frees without clearing: the body sent in the
 * same segment as the header (every small POST) lands there, and its bytes
 * (a `password`) stay in freed memory.  This stream reads the socket into its
 * own buffer and gives each read at most one line (up to and including a
 * `\n`), so libsoup's header buffer never holds more than the line it looks
 * for; a body is read by libsoup straight into its chunks, which the server
 * wipes (exh-server.c).  Every byte handed out is cleared from this stream's
 * buffers at once (a read's, on the stack, and what is left of it, kept on
 * the heap only until handed out, so an idle connection holds no buffer),
 * the rest when the stream is freed.  docs/SECURITY.md §8.
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define EXH_TYPE_LINE_STREAM (exh_line_stream_get_type())
G_DECLARE_FINAL_TYPE(ExhLineStream, exh_line_stream, EXH, LINE_STREAM, GIOStream)

/**
 * exh_line_stream_new:
 * @base: a connection (a #GSocketConnection) whose input stream is pollable
 *
 * Returns: (transfer full): a stream reading @base's input a line at a time
 *   and writing to @base's output; closing it closes @base
 */
GIOStream *exh_line_stream_new(GIOStream *base);

/**
 * exh_line_stream_set_whole:
 * @stream: a line stream
 * @whole: %TRUE while libsoup reads a body framed by Content-Length, which it
 *   reads straight into its chunks (never through its header buffer): reads
 *   are then not cut at each `\n` (a pretty-printed body would otherwise be
 *   one chunk a line); %FALSE again for the next request's header
 */
void exh_line_stream_set_whole(ExhLineStream *stream, gboolean whole);

/**
 * exh_line_stream_poll_externally:
 * @stream: a line stream, before libsoup polls it
 *
 * From now on a source waiting for @stream to become readable holds no
 * descriptor: it is ready while the stream may be readable, that is from an
 * exh_line_stream_readable() (the owner's edge-triggered epoll saw the socket
 * readable, or closed) until a read finds the socket empty.  A new stream
 * counts as maybe readable.  On the thread that polls the stream only.
 */
void exh_line_stream_poll_externally(ExhLineStream *stream);

/* The socket under @stream became readable (or hung up): wakes its waiters. */
void exh_line_stream_readable(ExhLineStream *stream);

/* %FALSE once a read found the socket empty and nothing came since. */
gboolean exh_line_stream_maybe_readable(ExhLineStream *stream);

/* Bytes handed to the reader so far: a reader that took none since a moment
 * holds nothing it read after it (the listener's parking, exh-listener.c). */
guint64 exh_line_stream_get_handed(ExhLineStream *stream);

/* %TRUE while bytes read from the socket wait to be handed out. */
gboolean exh_line_stream_has_buffered(ExhLineStream *stream);

/* Waiting sources of all line streams alive in the process (tests: a parked
 * connection leaves libsoup no source waiting on its stream). */
guint exh_line_stream_count_waiters(void);

G_END_DECLS
