/*
 * Copyright 2026 The exordos_mail authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The line-at-a-time stream under libsoup (exh-line-stream.h).
 */
#include "exh-line-stream.h"

#include <string.h>

#include "exm-secret.h"

/* One socket read at most; libsoup asks for up to 8 KiB at a time. */
#define LINE_BUFFER 8192

/* ---------------------------------------------------------------- input */

#define LINE_TYPE_INPUT (line_input_get_type())
G_DECLARE_FINAL_TYPE(LineInput, line_input, LINE, INPUT, GFilterInputStream)

struct _LineInput {
	GFilterInputStream parent;
	/* the bytes of a read not handed out yet: buf[start, end); allocated only
	 * while there are some, so an idle connection holds no buffer */
	guchar *buf;
	gsize start;
	gsize end;
	gboolean whole; /* a Content-Length body: reads are not cut at '\n' */
	/* exh_line_stream_poll_externally(): the socket's readiness comes from the
	 * listener's epoll, not from a poll record of each waiting source */
	gboolean external;
	gboolean maybe_readable; /* no read has found the socket empty since its last event */
	guint64 handed;		 /* bytes handed out so far (exh_line_stream_get_handed()) */
};

static void line_input_pollable_init(GPollableInputStreamInterface *iface);

G_DEFINE_TYPE_WITH_CODE(LineInput,
			line_input,
			G_TYPE_FILTER_INPUT_STREAM,
			G_IMPLEMENT_INTERFACE(G_TYPE_POLLABLE_INPUT_STREAM,
					      line_input_pollable_init))

static GInputStream *
base_of(LineInput *self)
{
	return g_filter_input_stream_get_base_stream(G_FILTER_INPUT_STREAM(self));
}

/* Up to @count bytes of @from, in line mode never past the first '\n';
 * those handed out are cleared at once. */
static gsize
take(LineInput *self, guchar *from, gsize avail, guchar *buffer, gsize count)
{
	const guchar *lf = self->whole ? NULL : memchr(from, '\n', avail);
	gsize n = MIN(count, lf != NULL ? (gsize)(lf - from) + 1 : avail);

	memcpy(buffer, from, n);
	exm_secret_wipe(from, n);
	self->handed += n;
	return n;
}

static gssize
give(LineInput *self, guchar *buffer, gsize count)
{
	gsize n = take(self, self->buf + self->start, self->end - self->start, buffer, count);

	self->start += n;
	if (self->start == self->end) {
		g_clear_pointer(&self->buf, g_free); /* every byte cleared as handed out */
		self->start = self->end = 0;
	}
	return (gssize)n;
}

/* A socket read's bytes: handed out, what is left kept (and cleared here). */
static gssize
give_read(LineInput *self, guchar *chunk, gsize len, guchar *buffer, gsize count)
{
	gsize n = take(self, chunk, len, buffer, count);

	if (n < len) {
		self->buf = g_memdup2(chunk + n, len - n);
		self->start = 0;
		self->end = len - n;
		exm_secret_wipe(chunk + n, len - n);
	}
	return (gssize)n;
}

static gssize
line_read(LineInput *self,
	  void *buffer,
	  gsize count,
	  gboolean blocking,
	  GCancellable *cancellable,
	  GError **error)
{
	if (count == 0)
		return 0;
	if (self->end == self->start) {
		guchar chunk[LINE_BUFFER];
		g_autoptr(GError) local = NULL;
		gssize n = g_pollable_stream_read(
			base_of(self), chunk, sizeof(chunk), blocking, cancellable, &local);

		if (n < 0 && g_error_matches(local, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
			self->maybe_readable = FALSE;
		if (n < 0)
			g_propagate_error(error, g_steal_pointer(&local));
		if (n <= 0)
			return n;
		return give_read(self, chunk, (gsize)n, buffer, count);
	}
	return give(self, buffer, count);
}

static gssize
line_input_read(GInputStream *stream,
		void *buffer,
		gsize count,
		GCancellable *cancellable,
		GError **error)
{
	return line_read(LINE_INPUT(stream), buffer, count, TRUE, cancellable, error);
}

static gssize
line_input_read_nonblocking(GPollableInputStream *stream, void *buffer, gsize count, GError **error)
{
	return line_read(LINE_INPUT(stream), buffer, count, FALSE, NULL, error);
}

static gboolean
line_input_can_poll(GPollableInputStream *stream)
{
	GInputStream *base = base_of(LINE_INPUT(stream));

	return G_IS_POLLABLE_INPUT_STREAM(base) &&
	       g_pollable_input_stream_can_poll(G_POLLABLE_INPUT_STREAM(base));
}

static gboolean
line_input_is_readable(GPollableInputStream *stream)
{
	LineInput *self = LINE_INPUT(stream);

	return self->end > self->start ||
	       g_pollable_input_stream_is_readable(G_POLLABLE_INPUT_STREAM(base_of(self)));
}

/*
 * Polled externally, a waiting source holds no descriptor: it is ready while
 * the stream may be readable, a flag that a read finding the socket empty
 * clears and the listener's epoll sets.  Attaching and destroying it walks
 * none of the main context's poll records, and an idle connection adds no
 * descriptor to the loop's poll() (docs/scale.md §4).
 */
typedef struct {
	GSource source;
	LineInput *input; /* a reference */
} Waiter;

static gint live_waiters; /* atomic: exh_line_stream_count_waiters() */

static gboolean
waiter_prepare(GSource *source, gint *timeout)
{
	*timeout = -1;
	return ((Waiter *)source)->input->maybe_readable;
}

static gboolean
waiter_check(GSource *source)
{
	return ((Waiter *)source)->input->maybe_readable;
}

/* The stream's own pollable source (a #GPollableSourceFunc callback), one
 * source fewer per waiting connection than a pollable source around a child. */
static gboolean
waiter_dispatch(GSource *source, GSourceFunc callback, gpointer data)
{
	GPollableSourceFunc func = (GPollableSourceFunc)(GCallback)callback;

	return func != NULL ? func(G_OBJECT(((Waiter *)source)->input), data) : G_SOURCE_CONTINUE;
}

static void
waiter_finalize(GSource *source)
{
	g_clear_object(&((Waiter *)source)->input);
	g_atomic_int_add(&live_waiters, -1);
}

/* What a closure set on the source (g_source_set_closure()) is called through. */
static gboolean
waiter_closure_callback(GObject *stream, gpointer data)
{
	GValue param = G_VALUE_INIT;
	GValue result = G_VALUE_INIT;
	gboolean ret;

	g_value_init(&result, G_TYPE_BOOLEAN);
	g_value_init(&param, G_TYPE_OBJECT);
	g_value_set_object(&param, stream);
	g_closure_invoke(data, &result, 1, &param, NULL);
	ret = g_value_get_boolean(&result);
	g_value_unset(&result);
	g_value_unset(&param);
	return ret;
}

static GSourceFuncs waiter_funcs = {
	.prepare = waiter_prepare,
	.check = waiter_check,
	.dispatch = waiter_dispatch,
	.finalize = waiter_finalize,
	.closure_callback = (GSourceFunc)(GCallback)waiter_closure_callback,
	.closure_marshal = (GSourceDummyMarshal)(GCallback)g_cclosure_marshal_generic,
};

static GSource *
waiter_new(LineInput *self)
{
	GSource *source = g_source_new(&waiter_funcs, sizeof(Waiter));

	((Waiter *)source)->input = g_object_ref(self);
	g_atomic_int_inc(&live_waiters);
	g_source_set_static_name(source, "ExhLineStream waiter");
	return source;
}

/* Ready at once while bytes are buffered, else when the socket is. */
static GSource *
line_input_create_source(GPollableInputStream *stream, GCancellable *cancellable)
{
	LineInput *self = LINE_INPUT(stream);
	g_autoptr(GSource) child = NULL;

	if (self->end > self->start)
		child = g_timeout_source_new(0);
	else if (self->external && cancellable == NULL)
		return waiter_new(self);
	else if (self->external)
		child = waiter_new(self);
	else
		child = g_pollable_input_stream_create_source(
			G_POLLABLE_INPUT_STREAM(base_of(self)), cancellable);
	return g_pollable_source_new_full(stream, child, cancellable);
}

static void
line_input_finalize(GObject *object)
{
	LineInput *self = LINE_INPUT(object);

	if (self->buf != NULL)
		exm_secret_wipe(self->buf + self->start, self->end - self->start);
	g_free(self->buf);
	G_OBJECT_CLASS(line_input_parent_class)->finalize(object);
}

static void
line_input_pollable_init(GPollableInputStreamInterface *iface)
{
	iface->can_poll = line_input_can_poll;
	iface->is_readable = line_input_is_readable;
	iface->create_source = line_input_create_source;
	iface->read_nonblocking = line_input_read_nonblocking;
}

static void
line_input_class_init(LineInputClass *klass)
{
	G_OBJECT_CLASS(klass)->finalize = line_input_finalize;
	G_INPUT_STREAM_CLASS(klass)->read_fn = line_input_read;
}

static void
line_input_init(LineInput *self)
{
	self->maybe_readable = TRUE;
}

/* ---------------------------------------------------------------- the pair */

struct _ExhLineStream {
	GIOStream parent;
	GIOStream *base;
	GInputStream *input;
};

G_DEFINE_FINAL_TYPE(ExhLineStream, exh_line_stream, G_TYPE_IO_STREAM)

static GInputStream *
line_stream_get_input(GIOStream *stream)
{
	return EXH_LINE_STREAM(stream)->input;
}

static GOutputStream *
line_stream_get_output(GIOStream *stream)
{
	return g_io_stream_get_output_stream(EXH_LINE_STREAM(stream)->base);
}

static gboolean
line_stream_close(GIOStream *stream, GCancellable *cancellable, GError **error)
{
	return g_io_stream_close(EXH_LINE_STREAM(stream)->base, cancellable, error);
}

static void
line_stream_dispose(GObject *object)
{
	ExhLineStream *self = EXH_LINE_STREAM(object);

	g_clear_object(&self->input);
	g_clear_object(&self->base);
	G_OBJECT_CLASS(exh_line_stream_parent_class)->dispose(object);
}

static void
exh_line_stream_class_init(ExhLineStreamClass *klass)
{
	G_OBJECT_CLASS(klass)->dispose = line_stream_dispose;
	G_IO_STREAM_CLASS(klass)->get_input_stream = line_stream_get_input;
	G_IO_STREAM_CLASS(klass)->get_output_stream = line_stream_get_output;
	G_IO_STREAM_CLASS(klass)->close_fn = line_stream_close;
}

static void
exh_line_stream_init(ExhLineStream *self)
{
}

GIOStream *
exh_line_stream_new(GIOStream *base)
{
	ExhLineStream *self = g_object_new(EXH_TYPE_LINE_STREAM, NULL);

	self->base = g_object_ref(base);
	/* closing libsoup's input must not close the socket under the output */
	self->input = g_object_new(LINE_TYPE_INPUT,
				   "base-stream",
				   g_io_stream_get_input_stream(base),
				   "close-base-stream",
				   FALSE,
				   NULL);
	return G_IO_STREAM(self);
}

void
exh_line_stream_set_whole(ExhLineStream *stream, gboolean whole)
{
	LINE_INPUT(stream->input)->whole = whole;
}

void
exh_line_stream_poll_externally(ExhLineStream *stream)
{
	LINE_INPUT(stream->input)->external = TRUE;
}

void
exh_line_stream_readable(ExhLineStream *stream)
{
	LINE_INPUT(stream->input)->maybe_readable = TRUE;
}

gboolean
exh_line_stream_maybe_readable(ExhLineStream *stream)
{
	return LINE_INPUT(stream->input)->maybe_readable;
}

guint64
exh_line_stream_get_handed(ExhLineStream *stream)
{
	return LINE_INPUT(stream->input)->handed;
}

gboolean
exh_line_stream_has_buffered(ExhLineStream *stream)
{
	LineInput *input = LINE_INPUT(stream->input);

	return input->end > input->start;
}

guint
exh_line_stream_count_waiters(void)
{
	return (guint)g_atomic_int_get(&live_waiters);
}
