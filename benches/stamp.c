/* Stand-in for the real codex in benches/run.sh: exits 0 at once. When
 * STAMP_FILE is set it first writes its start time (CLOCK_MONOTONIC, ns)
 * there, so startlat can split a launch into "until codex starts" and
 * "after codex exits". */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int main(void) {
    const char *f = getenv("STAMP_FILE");
    if (f && *f) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        char buf[32];
        int n = snprintf(buf, sizeof buf, "%lld\n",
                         (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec);
        int fd = open(f, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd >= 0) {
            if (write(fd, buf, (size_t)n) < 0) { /* nothing to do */ }
            close(fd);
        }
    }
    return 0;
}
