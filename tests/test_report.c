// The HTML report: a page for synthetic results has one polyline per drawable curve with the
// right number of points, escaped text, the table rows, no network references and no NaN in
// the SVG; bad arguments are refused and a failed write leaves no temp file.
#define _POSIX_C_SOURCE 200809L

#include <ctype.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"
#include "train/report.h"

#define EVIL_NAME "784 k=128 H=5541, <KD> & \"x\" 'y'"
#define EVIL_ESCAPED "784 k=128 H=5541, &lt;KD&gt; &amp; &quot;x&quot; &#39;y&#39;"

// The teacher and a KD student train normally; the conv student diverges half-way (NaN, an
// infinite loss, a loss of 0 that a log axis cannot show); one model has no finite value at
// all and one has no epochs.
static const double t_loss[4] = {2.0, 0.6, 0.1, 0.02}, t_acc[4] = {0.80, 0.88, 0.91, 0.93};
static const double s_loss[6] = {1.5, 1.0, 0.7, 0.5, 0.4, 0.35};
static const double s_acc[6] = {0.70, 0.80, 0.84, 0.86, 0.87, 0.875};
static const double d_loss[5] = {1.0, NAN, INFINITY, 0.5, 0.0};
static const double d_acc[5] = {0.5, NAN, 0.6, NAN, 0.7};
static const double n_loss[3] = {NAN, NAN, NAN}, n_acc[3] = {NAN, NAN, NAN};
// Points per polyline: the accuracy chart, then the loss chart.
static const int want_points[] = {4, 6, 3, 4, 6, 2};

static mimic_report_model models[5];
static const mimic_report_kernel kernels[4] = {{"GEMM", 6.0, 120.5},
                                               {"im2col/col2im", 2.0, 0.0},
                                               {"softmax/loss", 0.5, 0.0},
                                               {"other", 1.5, 0.0}};

static mimic_report sample(void)
{
    models[0] = (mimic_report_model){"teacher (4 conv + 2 dense)",
                                     "labels (CE)",
                                     0,
                                     870634,
                                     0.93,
                                     120.0,
                                     2000.0,
                                     9000.0,
                                     4,
                                     t_loss,
                                     t_acc};
    models[1] = (mimic_report_model){EVIL_NAME, "KD",    1, 870561, 0.875, 10.0,
                                     36000.0,   60000.0, 6, s_loss, s_acc};
    models[2] = (mimic_report_model){"conv5x5+pool k=32 H=10873, logits (L2)",
                                     "logits (L2)",
                                     2,
                                     870621,
                                     NAN,
                                     30.0,
                                     INFINITY,
                                     7000.0,
                                     5,
                                     d_loss,
                                     d_acc};
    models[3] = (mimic_report_model){"all missing", "labels (CE)", 1, 1000,   NAN,  NAN,
                                     NAN,           NAN,           3, n_loss, n_acc};
    models[4] = (mimic_report_model){"not trained", "KD", 2, 10, NAN, 0, 0, 0, 0, NULL, NULL};
    return (mimic_report){.title = "mimic distill, seed 1",
                          .subtitle = "CPU x, ISA avx512, 2 threads <script>alert(1)</script>",
                          .models = models,
                          .n_models = 5,
                          .kernels = kernels,
                          .n_kernels = 4,
                          .total_seconds = 10.0};
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    const long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    if (s && fread(s, 1, (size_t)n, f) != (size_t)n) {
        free(s);
        s = NULL;
    }
    if (s)
        s[n] = '\0';
    fclose(f);
    return s;
}

static int count(const char *s, const char *end, const char *what)
{
    int n = 0;
    for (const char *p = strstr(s, what); p && (!end || p < end); p = strstr(p + 1, what))
        n++;
    return n;
}

// Whether `word` occurs on its own (not inside a longer word: "inf" but not "infer"), any case.
static int has_word(const char *s, const char *word)
{
    const size_t n = strlen(word);
    for (const char *p = s; *p; p++)
        if (strncasecmp(p, word, n) == 0 && (p == s || !isalpha((unsigned char)p[-1])) &&
            !isalpha((unsigned char)p[n]))
            return 1;
    return 0;
}

// Every polyline's points: the count matches, every coordinate is a finite number inside the
// chart.
static void check_polylines(const char *html)
{
    const int want = (int)(sizeof want_points / sizeof want_points[0]);
    TC_CHECK(count(html, NULL, "<polyline") == want);
    const char *p = html;
    for (int i = 0; i < want; i++) {
        p = strstr(strstr(p, "<polyline"), "points=\"") + 8;
        int n = 0;
        while (*p != '"') {
            char *end;
            const double x = strtod(p, &end);
            TC_CHECK(end != p && *end == ',');
            const double y = strtod(end + 1, &end);
            TC_CHECK(isfinite(x) && isfinite(y) && x >= 0 && x <= 920 && y >= 0 && y <= 400);
            n++;
            p = end + (*end == ' ');
        }
        if (n != want_points[i])
            TC_FAIL("polyline %d has %d points, want %d", i, n, want_points[i]);
    }
}

static void test_page(void **state)
{
    (void)state;
    char dir[] = "/tmp/mimic-report-XXXXXX", path[128], tmp[160], err[512] = "";
    TC_CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/report.html", dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    const mimic_report r = sample();
    tc_ctx("%s", err);
    TC_STATUS(mimic_report_write_html(path, &r, err, sizeof err), MIMIC_OK);
    TC_CHECK(access(tmp, F_OK) != 0);
    char *html = slurp(path);
    TC_CHECK(html != NULL);
    TC_CHECK(strncmp(html, "<!DOCTYPE html>", 15) == 0 && strstr(html, "</html>\n"));
    // Self-contained: nothing fetched, nothing run.
    TC_CHECK(!strstr(html, "http") && !strstr(html, "<script") && !strstr(html, "<img") &&
             !strstr(html, "<link") && !strstr(html, "url("));
    TC_CHECK(strstr(html, "&lt;script&gt;alert(1)&lt;/script&gt;"));
    TC_CHECK(strstr(html, EVIL_ESCAPED) && !strstr(html, "<KD>"));
    check_polylines(html);
    TC_CHECK(!has_word(html, "nan") && !has_word(html, "inf"));
    // The table: a header and a row per model; the diverged model reads n/a.
    const char *table = strstr(html, "<table id=\"results\">");
    TC_CHECK(table != NULL);
    const char *table_end = strstr(table, "</table>");
    TC_CHECK(count(table, table_end, "<tr>") == 1 + r.n_models);
    TC_CHECK(strstr(table, "<td class=\"n\">870,634</td><td class=\"n\">93.00 %</td>"));
    const char *row = strstr(table, "conv5x5+pool k=32 H=10873, logits (L2)</td>");
    TC_CHECK(row && strstr(row, "<td class=\"n\">n/a</td>") < strstr(row, "</tr>"));
    // The legend marks the model with nothing to draw; the kernel bars give shares of 10 s.
    TC_CHECK(strstr(html, ">all missing (n/a)</text>"));
    TC_CHECK(strstr(html, "60.0 % &#183; 6.0 s &#183; 120.5 GFLOP/s"));
    TC_CHECK(strstr(html, "20.0 % &#183; 2.0 s</text>"));
    TC_CHECK(strstr(html, "n/a &#183; 870,621 params"));
    free(html);

    // A report rewritten in place replaces the old one; an empty report is still a page.
    const mimic_report empty = {.title = "empty", .total_seconds = NAN};
    TC_STATUS(mimic_report_write_html(path, &empty, err, sizeof err), MIMIC_OK);
    html = slurp(path);
    TC_CHECK(html && strstr(html, "No kernel times") && !strstr(html, "<polyline") &&
             count(html, NULL, "<tr>") == 1 && strstr(html, "Whole run: n/a."));
    free(html);
    remove(path);
    rmdir(dir);
}

// Every loss is NaN or 0 and every accuracy NaN: the charts say so instead of drawing.
static void test_nothing_to_draw(void **state)
{
    (void)state;
    char dir[] = "/tmp/mimic-report-XXXXXX", path[128], err[512] = "";
    TC_CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/r.html", dir);
    static const double zero[1] = {0.0}, nan1[1] = {NAN};
    const mimic_report_model m = {"only", "KD", 1, 5, NAN, 1, 2, 3, 1, zero, nan1};
    const mimic_report r = {.title = "t", .models = &m, .n_models = 1};
    tc_ctx("%s", err);
    TC_STATUS(mimic_report_write_html(path, &r, err, sizeof err), MIMIC_OK);
    char *html = slurp(path);
    TC_CHECK(html && count(html, NULL, "no finite values to plot") == 2);
    TC_CHECK(!strstr(html, "<polyline") && !has_word(html, "nan") && !has_word(html, "inf"));
    free(html);
    remove(path);
    rmdir(dir);
}

static void expect_einval(const char *path, const mimic_report *r, const char *mention)
{
    char err[512] = "";
    TC_STATUS(mimic_report_write_html(path, r, err, sizeof err), MIMIC_EINVAL);
    if (!strstr(err, mention))
        TC_FAIL("the message should mention \"%s\": %s", mention, err);
    // No err buffer at all is allowed.
    TC_STATUS(mimic_report_write_html(path, r, NULL, 0), MIMIC_EINVAL);
}

static void test_invalid(void **state)
{
    (void)state;
    const char *path = "/tmp/mimic-report-never-written.html";
    mimic_report r = sample();
    expect_einval(NULL, &r, "path");
    expect_einval("", &r, "path");
    expect_einval(path, NULL, "report");
    r.title = NULL;
    expect_einval(path, &r, "title");
    r = sample();
    r.n_models = -1;
    expect_einval(path, &r, "n_models");
    r = sample();
    r.n_kernels = -2;
    expect_einval(path, &r, "n_kernels");
    r = sample();
    r.models = NULL;
    expect_einval(path, &r, "models");
    r = sample();
    models[1].epoch_loss = NULL;
    expect_einval(path, &r, "epoch_loss");
    r = sample();
    models[0].epoch_acc = NULL;
    expect_einval(path, &r, "epoch_acc");
    r = sample();
    models[2].form = 3;
    expect_einval(path, &r, "form");
    r = sample();
    models[1].test_accuracy = 1.5;
    expect_einval(path, &r, "test_accuracy");
    r = sample();
    models[0].name = NULL;
    expect_einval(path, &r, "name");
    r = sample();
    models[1].params = -1;
    expect_einval(path, &r, "params");
    r = sample();
    models[1].epochs = -1;
    expect_einval(path, &r, "epochs");
    r = sample();
    static const double bad_acc[4] = {0.1, 0.2, -0.3, 0.4};
    models[0].epoch_acc = bad_acc;
    expect_einval(path, &r, "epoch_acc[2]");
    r = sample();
    models[0].train_seconds = -1;
    expect_einval(path, &r, "models[0]");
    r = sample();
    r.total_seconds = -5;
    expect_einval(path, &r, "total_seconds");
    r = sample();
    const mimic_report_kernel bad_kernel = {"GEMM", -1.0, 3.0};
    r.kernels = &bad_kernel;
    r.n_kernels = 1;
    expect_einval(path, &r, "kernels[0]");
    TC_CHECK(access(path, F_OK) != 0);
}

static void test_unwritable(void **state)
{
    (void)state;
    const mimic_report r = sample();
    char err[512] = "";
    // A directory that does not exist: nothing can be created.
    TC_STATUS(mimic_report_write_html("/nonexistent-mimic/r.html", &r, err, sizeof err), MIMIC_EIO);
    TC_CHECK(strstr(err, "/nonexistent-mimic/r.html") != NULL);
    // The path is a directory: the temp file is written, the rename fails, and the temp file
    // must not be left behind (this one fails even for root, unlike a read-only directory).
    char dir[] = "/tmp/mimic-report-XXXXXX", path[128], tmp[160];
    TC_CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/taken", dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    TC_CHECK(mkdir(path, 0700) == 0);
    TC_STATUS(mimic_report_write_html(path, &r, err, sizeof err), MIMIC_EIO);
    TC_CHECK(strstr(err, path) != NULL);
    TC_CHECK(access(tmp, F_OK) != 0);
    rmdir(path);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_page),
        cmocka_unit_test(test_nothing_to_draw),
        cmocka_unit_test(test_invalid),
        cmocka_unit_test(test_unwritable),
    };
    return cmocka_run_group_tests_name("report", tests, tc_group_setup, tc_group_teardown);
}
