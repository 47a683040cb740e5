// The HTML report of a distill run: argument checks, the page (a table and inline SVG charts,
// no scripts, no network) and its atomic write (temp file, fsync, rename).
#define _POSIX_C_SOURCE 200809L

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "train/report.h"
#include "train/util.h"

// --- Arguments ------------------------------------------------------------------------------

// A value the page can show: NaN and infinities mean "diverged" and are shown as n/a; a finite
// value must lie in [lo, hi].
static int value_ok(double v, double lo, double hi)
{
    return !isfinite(v) || (v >= lo && v <= hi);
}

static mimic_status check_model(const mimic_report_model *m, int i, char *err, size_t err_len)
{
    if (!m->name || !m->loss)
        return train_fail(err, err_len, MIMIC_EINVAL, "models[%d]: %s is NULL", i,
                    m->name ? "loss" : "name");
    if (m->form < 0 || m->form > 2)
        return train_fail(err, err_len, MIMIC_EINVAL, "models[%d] (%s): form %d is not 0, 1 or 2", i,
                    m->name, m->form);
    if (m->params < 0 || m->epochs < 0)
        return train_fail(err, err_len, MIMIC_EINVAL, "models[%d] (%s): negative %s", i, m->name,
                    m->params < 0 ? "params" : "epochs");
    if (m->epochs > 0 && (!m->epoch_loss || !m->epoch_acc))
        return train_fail(err, err_len, MIMIC_EINVAL, "models[%d] (%s): %s is NULL with epochs = %d", i,
                    m->name, m->epoch_loss ? "epoch_acc" : "epoch_loss", m->epochs);
    if (!value_ok(m->test_accuracy, 0.0, 1.0))
        return train_fail(err, err_len, MIMIC_EINVAL, "models[%d] (%s): test_accuracy %g not in 0..1", i,
                    m->name, m->test_accuracy);
    if (!value_ok(m->train_seconds, 0.0, HUGE_VAL) ||
        !value_ok(m->train_images_per_s, 0.0, HUGE_VAL) ||
        !value_ok(m->infer_images_per_s, 0.0, HUGE_VAL))
        return train_fail(err, err_len, MIMIC_EINVAL, "models[%d] (%s): a negative time or rate", i,
                    m->name);
    for (int e = 0; e < m->epochs; e++)
        if (!value_ok(m->epoch_acc[e], 0.0, 1.0))
            return train_fail(err, err_len, MIMIC_EINVAL,
                        "models[%d] (%s): epoch_acc[%d] = %g not in 0..1", i, m->name, e,
                        m->epoch_acc[e]);
    return MIMIC_OK;
}

static mimic_status check_report(const char *path, const mimic_report *r, char *err, size_t err_len)
{
    if (!path || !path[0])
        return train_fail(err, err_len, MIMIC_EINVAL, "path is %s", path ? "empty" : "NULL");
    if (!r || !r->title)
        return train_fail(err, err_len, MIMIC_EINVAL, "%s is NULL", r ? "title" : "report");
    if (r->n_models < 0 || r->n_kernels < 0)
        return train_fail(err, err_len, MIMIC_EINVAL, "%s < 0",
                    r->n_models < 0 ? "n_models" : "n_kernels");
    if ((r->n_models > 0 && !r->models) || (r->n_kernels > 0 && !r->kernels))
        return train_fail(err, err_len, MIMIC_EINVAL, "%s is NULL with a count > 0",
                    r->n_models > 0 && !r->models ? "models" : "kernels");
    if (!value_ok(r->total_seconds, 0.0, HUGE_VAL))
        return train_fail(err, err_len, MIMIC_EINVAL, "total_seconds %g < 0", r->total_seconds);
    for (int i = 0; i < r->n_models; i++) {
        const mimic_status st = check_model(&r->models[i], i, err, err_len);
        if (st != MIMIC_OK)
            return st;
    }
    for (int i = 0; i < r->n_kernels; i++) {
        const mimic_report_kernel *k = &r->kernels[i];
        if (!k->name)
            return train_fail(err, err_len, MIMIC_EINVAL, "kernels[%d]: name is NULL", i);
        if (!value_ok(k->seconds, 0.0, HUGE_VAL) || !value_ok(k->gflops, 0.0, HUGE_VAL))
            return train_fail(err, err_len, MIMIC_EINVAL, "kernels[%d] (%s): negative %s", i, k->name,
                        value_ok(k->seconds, 0.0, HUGE_VAL) ? "gflops" : "seconds");
    }
    return MIMIC_OK;
}

// --- Text -----------------------------------------------------------------------------------

// Text into HTML (element content and attribute values alike).
static void put_esc(FILE *f, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&#39;", f); break;
        default: fputc(*s, f);
        }
    }
}

// v rounded to an integer with thousands separators ("870,634"), or "n/a".
static const char *fmt_count(char *buf, size_t len, double v)
{
    if (!isfinite(v))
        return "n/a";
    if (fabs(v) >= 1e15) { // beyond what separators help to read, and beyond llround's reach
        snprintf(buf, len, "%.3g", v);
        return buf;
    }
    char digits[32];
    const int n = snprintf(digits, sizeof digits, "%lld", llabs(llround(v)));
    size_t o = 0;
    if (v <= -0.5 && o + 1 < len)
        buf[o++] = '-';
    for (int i = 0; i < n && o + 1 < len; i++) {
        buf[o++] = digits[i];
        if ((n - 1 - i) % 3 == 0 && i != n - 1 && o + 1 < len)
            buf[o++] = ',';
    }
    buf[o] = '\0';
    return buf;
}

// v with `dec` decimals and a unit suffix, or "n/a".
static const char *fmt_fixed(char *buf, size_t len, double v, int dec, const char *unit)
{
    if (!isfinite(v))
        return "n/a";
    snprintf(buf, len, "%.*f%s", dec, v, unit);
    return buf;
}

// --- Charts ---------------------------------------------------------------------------------

#define SVG_W 920
#define PLOT_L 70.0 // plot area of the line charts, in SVG pixels
#define PLOT_R 600.0
#define PLOT_T 20.0
#define PLOT_B 300.0
#define LEGEND_X 625.0
#define ROW_H 22.0 // one row of the bar charts

static const char *const palette[10] = {"#4e79a7", "#f28e2b", "#e15759", "#59a14f", "#b07aa1",
                                        "#76b7b2", "#edc948", "#9c755f", "#ff9da7", "#bab0ac"};
static const char *const form_names[3] = {"teacher", "784-input students (TIMIT form)",
                                          "conv students (CIFAR form)"};

// The teacher is drawn black and thick, the students in palette order; CIFAR-form students
// dashed, so the two forms stay apart even when colors repeat.
static const char *model_color(const mimic_report *r, int i)
{
    if (r->models[i].form == 0)
        return "#222222";
    int k = 0;
    for (int j = 0; j < i; j++)
        k += r->models[j].form != 0;
    return palette[k % 10];
}

static void put_stroke(FILE *f, const mimic_report *r, int i)
{
    const int form = r->models[i].form;
    fprintf(f, " stroke=\"%s\" stroke-width=\"%s\"%s", model_color(r, i), form == 0 ? "2.5" : "1.8",
            form == 2 ? " stroke-dasharray=\"6 3\"" : "");
}

// 1, 2 or 5 times a power of ten, so that `span` holds about `target` steps.
static double nice_step(double span, int target)
{
    const double raw = span / target, p = pow(10.0, floor(log10(raw))), m = raw / p;
    return (m < 1.5 ? 1.0 : m < 3.5 ? 2.0 : m < 7.5 ? 5.0 : 10.0) * p;
}

// A line chart's data range; y is in decades (log10) when logy is set.
typedef struct {
    double x0, x1, y0, y1;
    int logy;
} frame;

static double px(const frame *fr, double x)
{
    return PLOT_L + (x - fr->x0) / (fr->x1 - fr->x0) * (PLOT_R - PLOT_L);
}

static double py(const frame *fr, double y)
{
    const double v = fr->logy ? log10(y) : y;
    return PLOT_B - (v - fr->y0) / (fr->y1 - fr->y0) * (PLOT_B - PLOT_T);
}

static void y_tick(FILE *f, const frame *fr, double v, const char *unit)
{
    const double y = py(fr, v);
    fprintf(f, "<line class=\"grid\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>", PLOT_L, y,
            PLOT_R, y);
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%g%s</text>\n", PLOT_L - 6, y + 4,
            v, unit);
}

// Grid, ticks and labels of a line chart.
static void put_axes(FILE *f, const frame *fr, const char *xlabel, const char *ylabel,
                     const char *unit)
{
    if (fr->logy) {
        // Every decade (every few when there are many), and with a short range 2x and 5x
        // ticks between them to keep the axis useful.
        const double span = fr->y1 - fr->y0, every = ceil(span / 10.0);
        for (double d = fr->y0; d <= fr->y1 + 1e-9; d += every)
            for (int m = 1; m <= 5; m++) {
                const double v = m * pow(10.0, d);
                if ((m == 1 || ((m == 2 || m == 5) && span <= 2.0)) && d + log10(m) <= fr->y1 &&
                    isfinite(v) && v > 0) // 10^-324 is 0 in a double
                    y_tick(f, fr, v, unit);
            }
    } else {
        const double step = nice_step(fr->y1 - fr->y0, 6);
        for (double v = ceil(fr->y0 / step - 1e-9) * step; v <= fr->y1 + 1e-9; v += step)
            y_tick(f, fr, fabs(v) < 1e-12 ? 0.0 : v, unit);
    }
    const double step = fmax(1.0, nice_step(fr->x1 - fr->x0, 10));
    for (double e = ceil(fr->x0 / step) * step; e <= fr->x1 + 1e-9; e += step) {
        const double x = px(fr, e);
        fprintf(f, "<line class=\"grid\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>", x,
                PLOT_T, x, PLOT_B);
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%g</text>\n", x, PLOT_B + 16,
                e);
    }
    fprintf(f, "<rect class=\"axis\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\"/>\n",
            PLOT_L, PLOT_T, PLOT_R - PLOT_L, PLOT_B - PLOT_T);
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>\n",
            (PLOT_L + PLOT_R) / 2, PLOT_B + 36, xlabel);
    fprintf(f,
            "<text transform=\"translate(16 %.1f) rotate(-90)\" text-anchor=\"middle\">%s"
            "</text>\n",
            (PLOT_T + PLOT_B) / 2, ylabel);
}

// Epoch e's value of a curve (accuracy in percent, or loss), and whether it can be drawn:
// non-finite values are skipped, and so are losses <= 0, which a log axis cannot show.
static int curve_value(const mimic_report_model *m, int loss, int e, double *v)
{
    *v = loss ? m->epoch_loss[e] : 100.0 * m->epoch_acc[e];
    return isfinite(*v) && (!loss || *v > 0.0);
}

// The data range over every drawable point; 0 if there is none.
static int curve_range(const mimic_report *r, int loss, frame *fr)
{
    double lo = HUGE_VAL, hi = -HUGE_VAL;
    int epochs = 1;
    for (int i = 0; i < r->n_models; i++) {
        const mimic_report_model *m = &r->models[i];
        epochs = m->epochs > epochs ? m->epochs : epochs;
        for (int e = 0; e < m->epochs; e++) {
            double v;
            if (curve_value(m, loss, e, &v)) {
                lo = fmin(lo, v);
                hi = fmax(hi, v);
            }
        }
    }
    // One epoch still gets an axis of some width, with its point at the left edge.
    *fr = (frame){.x0 = 1, .x1 = epochs > 1 ? epochs : 2, .logy = loss};
    if (lo > hi) {
        fr->y0 = 0;
        fr->y1 = loss ? 1 : 100;
        return 0;
    }
    if (loss) {
        fr->y0 = floor(log10(lo));
        fr->y1 = fmax(ceil(log10(hi)), fr->y0 + 1);
    } else {
        const double step = nice_step(fmax(hi - lo, 1.0), 5);
        fr->y0 = fmax(0.0, floor(lo / step) * step - (hi - lo < 1e-9 ? step : 0));
        fr->y1 = fmin(100.0, ceil(hi / step) * step + (hi - lo < 1e-9 ? step : 0));
        if (fr->y1 <= fr->y0)
            fr->y1 = fr->y0 + step;
    }
    return 1;
}

static void put_legend(FILE *f, const mimic_report *r, int loss)
{
    for (int i = 0; i < r->n_models; i++) {
        const mimic_report_model *m = &r->models[i];
        int drawn = 0;
        for (int e = 0; e < m->epochs && !drawn; e++) {
            double v;
            drawn = curve_value(m, loss, e, &v);
        }
        const double y = PLOT_T + 8 + 18.0 * i;
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"", LEGEND_X, y,
                LEGEND_X + 24, y);
        put_stroke(f, r, i);
        fprintf(f, "/><text x=\"%.1f\" y=\"%.1f\">", LEGEND_X + 30, y + 4);
        put_esc(f, m->name);
        fprintf(f, "%s</text>\n", drawn ? "" : " (n/a)");
    }
}

// Test accuracy (loss = 0) or training loss (loss = 1, log axis) per epoch: one polyline per
// model that has a drawable point, with a dot at each point.
static void chart_curves(FILE *f, const mimic_report *r, int loss)
{
    frame fr;
    const int any = curve_range(r, loss, &fr);
    const double h = fmax(PLOT_B + 50, PLOT_T + 18.0 * r->n_models + 10);
    fprintf(f,
            "<svg width=\"%d\" height=\"%.0f\" viewBox=\"0 0 %d %.0f\" role=\"img\" "
            "aria-label=\"%s per epoch\">\n",
            SVG_W, h, SVG_W, h, loss ? "training loss" : "test accuracy");
    put_axes(f, &fr, "epoch", loss ? "training loss (log scale)" : "test accuracy (%)",
             loss ? "" : "%");
    if (!any)
        fprintf(f,
                "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">no finite values to "
                "plot</text>\n",
                (PLOT_L + PLOT_R) / 2, (PLOT_T + PLOT_B) / 2);
    for (int i = 0; i < r->n_models; i++) {
        const mimic_report_model *m = &r->models[i];
        int n = 0;
        double v;
        for (int e = 0; e < m->epochs; e++)
            n += curve_value(m, loss, e, &v);
        if (n == 0)
            continue;
        fprintf(f, "<g><title>");
        put_esc(f, m->name);
        fprintf(f, "</title><polyline fill=\"none\"");
        put_stroke(f, r, i);
        fprintf(f, " points=\"");
        for (int e = 0, k = 0; e < m->epochs; e++)
            if (curve_value(m, loss, e, &v))
                fprintf(f, "%s%.1f,%.1f", k++ ? " " : "", px(&fr, e + 1), py(&fr, v));
        fprintf(f, "\"/>");
        for (int e = 0; e < m->epochs; e++)
            if (curve_value(m, loss, e, &v))
                fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2\" fill=\"%s\"/>", px(&fr, e + 1),
                        py(&fr, v), model_color(r, i));
        fprintf(f, "</g>\n");
    }
    put_legend(f, r, loss);
    fprintf(f, "</svg>\n");
}

// The index of the first model trained with the same loss as model i.
static int first_with_loss(const mimic_report *r, int i)
{
    int j = 0;
    while (strcmp(r->models[j].loss, r->models[i].loss) != 0)
        j++;
    return j;
}

// The order of the accuracy bars: by form (teacher, then each student form), then by loss in
// the order the losses first appear, then as given. A stable insertion sort: a few models.
static void order_models(const mimic_report *r, int *order, int *key)
{
    for (int i = 0; i < r->n_models; i++) {
        const int first = first_with_loss(r, i);
        int rank = 0;
        for (int j = 0; j < first; j++)
            rank += first_with_loss(r, j) == j;
        key[i] = r->models[i].form * (r->n_models + 1) + rank;
        int k = i;
        for (; k > 0 && key[order[k - 1]] > key[i]; k--)
            order[k] = order[k - 1];
        order[k] = i;
    }
}

// A horizontal bar chart's scale: values lo..hi over x pixels l..r.
typedef struct {
    double lo, hi, l, r;
} scale;

static double sx(const scale *s, double v)
{
    return s->l + (v - s->lo) / (s->hi - s->lo) * (s->r - s->l);
}

// Test accuracy of every model as a bar, grouped by form and loss (`order`), with the
// parameter count beside it and the teacher's accuracy as a dashed line, so "the mimic is
// within a point of the teacher at the same size" reads at a glance.
static void chart_accuracy(FILE *f, const mimic_report *r, const int *order)
{
    double lo = 100, teacher = NAN;
    for (int i = 0; i < r->n_models; i++) {
        const double a = 100.0 * r->models[i].test_accuracy;
        if (isfinite(a)) {
            lo = fmin(lo, a);
            if (r->models[i].form == 0 && isnan(teacher))
                teacher = a;
        }
    }
    // From a multiple of 5 below the worst model: a point's difference stays visible.
    const scale s = {.lo = fmax(0.0, floor((lo - 1.0) / 5.0) * 5.0), .hi = 100, .l = 330, .r = 690};
    int groups = 0;
    for (int i = 0; i < r->n_models; i++)
        groups += i == 0 || r->models[order[i]].form != r->models[order[i - 1]].form;
    const double top = 10, bottom = top + ROW_H * (r->n_models + groups), h = bottom + 44;
    fprintf(f,
            "<svg width=\"%d\" height=\"%.0f\" viewBox=\"0 0 %d %.0f\" role=\"img\" "
            "aria-label=\"test accuracy by model\">\n",
            SVG_W, h, SVG_W, h);
    // s.lo is a multiple of 5, so each of these steps puts a tick on it.
    const double step = s.hi - s.lo <= 10 ? 1 : s.hi - s.lo <= 30 ? 5 : 10;
    for (double a = s.lo; a <= s.hi + 1e-9; a += step)
        fprintf(f,
                "<line class=\"grid\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>"
                "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%g%%</text>\n",
                sx(&s, a), top, sx(&s, a), bottom, sx(&s, a), bottom + 16, a);
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">test accuracy (%%)</text>\n",
            (s.l + s.r) / 2, bottom + 34);
    double y = top;
    for (int k = 0; k < r->n_models; k++) {
        const int i = order[k];
        const mimic_report_model *m = &r->models[i];
        if (k == 0 || m->form != r->models[order[k - 1]].form) {
            fprintf(f, "<text class=\"h\" x=\"10\" y=\"%.1f\">%s</text>\n", y + 15,
                    form_names[m->form]);
            y += ROW_H;
        }
        char acc[32], params[32];
        const double a = 100.0 * m->test_accuracy;
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">", s.l - 8, y + 15);
        put_esc(f, m->name);
        fprintf(f, "</text>");
        if (isfinite(a))
            fprintf(f,
                    "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
                    "fill=\"%s\"/>",
                    s.l, y + 4, sx(&s, a) - s.l, ROW_H - 8, model_color(r, i));
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\">%s &#183; %s params</text>\n", s.r + 8, y + 15,
                fmt_fixed(acc, sizeof acc, a, 2, " %"),
                fmt_count(params, sizeof params, (double)m->params));
        y += ROW_H;
    }
    if (isfinite(teacher))
        fprintf(f,
                "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#222\" "
                "stroke-dasharray=\"4 3\"><title>teacher</title></line>\n",
                sx(&s, teacher), top, sx(&s, teacher), bottom);
    fprintf(f, "</svg>\n");
}

// Each kernel family's share of the run as a bar, with its seconds and GFLOP/s. The shares are
// of the whole run when the caller's total covers the kernels, else of their sum.
static void chart_kernels(FILE *f, const mimic_report *r)
{
    const double bar_l = 150, bar_r = 600;
    double total = isfinite(r->total_seconds) ? r->total_seconds : 0.0;
    double sum = 0;
    for (int i = 0; i < r->n_kernels; i++)
        sum += isfinite(r->kernels[i].seconds) ? r->kernels[i].seconds : 0.0;
    total = fmax(total, sum);
    const double h = 10 + ROW_H * r->n_kernels + 10;
    fprintf(f,
            "<svg width=\"%d\" height=\"%.0f\" viewBox=\"0 0 %d %.0f\" role=\"img\" "
            "aria-label=\"time per kernel\">\n",
            SVG_W, h, SVG_W, h);
    for (int i = 0; i < r->n_kernels; i++) {
        const mimic_report_kernel *k = &r->kernels[i];
        const double y = 10 + ROW_H * i;
        const double share = total > 0 && isfinite(k->seconds) ? k->seconds / total : NAN;
        char pct[32], sec[32], gf[32];
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">", bar_l - 8, y + 15);
        put_esc(f, k->name);
        fprintf(f,
                "</text><rect class=\"axis\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
                "height=\"%.1f\"/>",
                bar_l, y + 4, bar_r - bar_l, ROW_H - 8);
        if (isfinite(share))
            fprintf(f,
                    "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
                    "fill=\"%s\"/>",
                    bar_l, y + 4, share * (bar_r - bar_l), ROW_H - 8, palette[i % 10]);
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\">%s &#183; %s", bar_r + 8, y + 15,
                fmt_fixed(pct, sizeof pct, 100.0 * share, 1, " %"),
                fmt_fixed(sec, sizeof sec, k->seconds, 1, " s"));
        if (!isfinite(k->gflops) || k->gflops > 0)
            fprintf(f, " &#183; %s", fmt_fixed(gf, sizeof gf, k->gflops, 1, " GFLOP/s"));
        fprintf(f, "</text>\n");
    }
    fprintf(f, "</svg>\n");
}

// --- The page -------------------------------------------------------------------------------

static const char style[] =
    "body{font:14px/1.45 system-ui,sans-serif;color:#222;max-width:940px;margin:1.5em auto;"
    "padding:0 1em}h1{font-size:1.45em;margin-bottom:.2em}h2{font-size:1.15em;margin-top:1.6em}"
    ".sub{color:#555;white-space:pre-wrap;margin-top:0}table{border-collapse:collapse}"
    "th,td{padding:.2em .7em;border-bottom:1px solid #ddd;text-align:left}"
    ".n{text-align:right;font-variant-numeric:tabular-nums}svg{display:block}"
    "svg text{font:12px system-ui,sans-serif;fill:#222}.grid{stroke:#e6e6e6}"
    ".axis{stroke:#999;fill:none}svg .h{font-weight:bold}";

static void table_results(FILE *f, const mimic_report *r)
{
    fprintf(f, "<table id=\"results\">\n<tr><th>model</th><th class=\"n\">params</th>"
               "<th class=\"n\">test acc</th><th class=\"n\">train s</th>"
               "<th class=\"n\">train img/s</th><th class=\"n\">infer img/s</th></tr>\n");
    for (int i = 0; i < r->n_models; i++) {
        const mimic_report_model *m = &r->models[i];
        char b[5][32];
        fprintf(f, "<tr><td>");
        put_esc(f, m->name);
        fprintf(f,
                "</td><td class=\"n\">%s</td><td class=\"n\">%s</td><td class=\"n\">%s</td>"
                "<td class=\"n\">%s</td><td class=\"n\">%s</td></tr>\n",
                fmt_count(b[0], sizeof b[0], (double)m->params),
                fmt_fixed(b[1], sizeof b[1], 100.0 * m->test_accuracy, 2, " %"),
                fmt_fixed(b[2], sizeof b[2], m->train_seconds, 1, ""),
                fmt_count(b[3], sizeof b[3], m->train_images_per_s),
                fmt_count(b[4], sizeof b[4], m->infer_images_per_s));
    }
    fprintf(f, "</table>\n");
}

static void write_page(FILE *f, const mimic_report *r, const int *order)
{
    char total[32];
    fprintf(f, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>");
    put_esc(f, r->title);
    fprintf(f, "</title>\n<style>%s</style>\n</head>\n<body>\n<h1>", style);
    put_esc(f, r->title);
    fprintf(f, "</h1>\n");
    if (r->subtitle && r->subtitle[0]) {
        fprintf(f, "<p class=\"sub\">");
        put_esc(f, r->subtitle);
        fprintf(f, "</p>\n");
    }
    fprintf(f, "<h2>Results</h2>\n");
    table_results(f, r);
    fprintf(f, "<p>Whole run: %s.</p>\n",
            fmt_fixed(total, sizeof total, r->total_seconds, 1, " s"));
    if (r->n_models > 0) {
        fprintf(f, "<h2>Test accuracy per epoch</h2>\n");
        chart_curves(f, r, 0);
        fprintf(f, "<h2>Training loss per epoch</h2>\n");
        chart_curves(f, r, 1);
        fprintf(f, "<h2>Test accuracy and parameters: teacher vs students</h2>\n");
        chart_accuracy(f, r, order);
    }
    fprintf(f, "<h2>Time per kernel</h2>\n");
    if (r->n_kernels > 0)
        chart_kernels(f, r);
    else
        fprintf(f, "<p>No kernel times were recorded.</p>\n");
    fprintf(f, "</body>\n</html>\n");
}

typedef struct {
    const mimic_report *r;
    const int *order;
} page_args;

static int fill_page(FILE *f, const void *ctx)
{
    const page_args *a = ctx;
    write_page(f, a->r, a->order);
    return 1; // write errors show in ferror(f)
}

mimic_status mimic_report_write_html(const char *path, const mimic_report *r, char *err,
                                     size_t err_len)
{
    mimic_status st = check_report(path, r, err, err_len);
    if (st != MIMIC_OK)
        return st;
    int *order = malloc(2 * ((size_t)r->n_models + 1) * sizeof *order);
    if (!order)
        return train_fail(err, err_len, MIMIC_ENOMEM, "%s: out of memory", path);
    order_models(r, order, order + r->n_models + 1);
    const page_args a = {r, order};
    st = train_write_atomic_with(path, fill_page, &a, err, err_len);
    free(order);
    return st;
}
