/* Stand-in for the real codex in benches/day.py and benches/sizes.sh: writes
 * its start time (CLOCK_REALTIME, ns) to STAMP_FILE, then a session rollout
 * the way codex 0.171.0 does (session_meta naming the creator, the cwd and
 * the source, then an event_msg / token_count line with rate_limits) under
 * $CODEX_HOME/sessions/Y/M/D/ with a UUID v7 thread id, sleeps RUN_MS
 * milliseconds (the run), and exits 0. The account is the sandbox's name
 * (user-NAME / acct-NAME, as the benches' logins); its numbers come from
 * WEEKLY_<NAME> (default 50).
 *
 * Knobs: ROLLOUT_SOURCE (session_meta source, default "exec"; "cli" for an
 * interactive session), ROLLOUT_META_PAD (bytes of base instructions in
 * session_meta; codex 0.171.0 writes about 27 KB), ROLLOUT_APPEND (a path:
 * append the token_count line to that rollout instead of creating one, as
 * a resumed session does). The last group of its ids starts with b0b0
 * (benches/sizes.sh removes what it wrote by that). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void stamp(void) {
    const char *f = getenv("STAMP_FILE");
    if (!f || !*f) return;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    char buf[32];
    int n = snprintf(buf, sizeof buf, "%lld\n", (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec);
    int fd = open(f, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd >= 0) {
        if (write(fd, buf, (size_t)n) < 0) { /* nothing to do */ }
        close(fd);
    }
}

static void iso(char *out, size_t len) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char base[24];
    strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, len, "%s.%03ldZ", base, ts.tv_nsec / 1000000);
}

static void token_count(FILE *f, const char *weekly, time_t now) {
    char t[64];
    iso(t, sizeof t);
    fprintf(f, "{\"timestamp\":\"%s\",\"type\":\"event_msg\",\"payload\":{\"type\":\"token_count\",\"info\":null,"
               "\"rate_limits\":{\"limit_id\":\"codex\",\"limit_name\":null,"
               "\"primary\":{\"used_percent\":5.0,\"window_minutes\":300,\"resets_at\":%ld},"
               "\"secondary\":{\"used_percent\":%s,\"window_minutes\":10080,\"resets_at\":%ld},"
               "\"credits\":null,\"plan_type\":null,\"rate_limit_reached_type\":null}}}\n",
            t, (long)now + 3600, weekly, (long)now + 5 * 86400);
}

int main(void) {
    stamp();
    const char *home = getenv("CODEX_HOME");
    if (!home) return 0;
    const char *name = strrchr(home, '/');
    name = name ? name + 1 : home;
    char var[128], dir[4096], path[4200], t[64], cwd[4096];
    snprintf(var, sizeof var, "WEEKLY_%s", name);
    const char *weekly = getenv(var) ? getenv(var) : "50";
    const char *source = getenv("ROLLOUT_SOURCE") ? getenv("ROLLOUT_SOURCE") : "exec";
    long pad = getenv("ROLLOUT_META_PAD") ? atol(getenv("ROLLOUT_META_PAD")) : 0;
    const char *append = getenv("ROLLOUT_APPEND");
    if (!getcwd(cwd, sizeof cwd)) strcpy(cwd, "/");
    time_t now = time(NULL);
    FILE *f;
    if (append && *append) {
        f = fopen(append, "a");
        if (!f) return 0;
    } else {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        unsigned long long ms = (unsigned long long)ts.tv_sec * 1000ULL + (unsigned long long)(ts.tv_nsec / 1000000);
        struct tm tm;
        gmtime_r(&now, &tm);
        snprintf(dir, sizeof dir, "%s/sessions", home); mkdir(dir, 0700);
        snprintf(dir, sizeof dir, "%s/sessions/%04d", home, tm.tm_year + 1900); mkdir(dir, 0700);
        snprintf(dir, sizeof dir, "%s/sessions/%04d/%02d", home, tm.tm_year + 1900, tm.tm_mon + 1); mkdir(dir, 0700);
        snprintf(dir, sizeof dir, "%s/sessions/%04d/%02d/%02d", home, tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday); mkdir(dir, 0700);
        unsigned r = (unsigned)getpid() * 2654435761u ^ (unsigned)ts.tv_nsec;
        snprintf(path, sizeof path, "%s/rollout-%04d-%02d-%02dT%02d-%02d-%02d-%08llx-%04llx-7%03x-8000-b0b0%08x.jsonl", dir,
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                 ms >> 16, ms & 0xffff, r & 0xfff, (unsigned)getpid());
        f = fopen(path, "w");
        if (!f) return 0;
        iso(t, sizeof t);
        fprintf(f, "{\"timestamp\":\"%s\",\"type\":\"session_meta\",\"payload\":{\"account_scoped\":true,"
                   "\"creator_user_id\":\"user-%s\",\"creator_account_id\":\"acct-%s\",\"timestamp\":\"%s\","
                   "\"cwd\":\"%s\",\"source\":\"%s\",\"base_instructions\":{\"text\":\"",
                t, name, name, t, cwd, source);
        for (long i = 0; i < pad; i++) fputc('x', f);
        fputs("\"}}}\n", f);
    }
    token_count(f, weekly, now);
    fclose(f);
    const char *run = getenv("RUN_MS");
    if (run) usleep((useconds_t)atoi(run) * 1000);
    return 0;
}
