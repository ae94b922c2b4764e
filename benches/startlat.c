/* startlat RUNS PREPARE -- CMD [ARGS...]
 *
 * Runs CMD RUNS times (after `sh -c PREPARE` each time, untimed; "" for
 * none) and prints one line per run: microseconds from fork until the
 * stand-in (stamp.c, told by STAMP_FILE) started, and from then until CMD
 * was reaped. STAMP_FILE must be set in the environment. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main(int argc, char **argv) {
    if (argc < 5 || strcmp(argv[3], "--") != 0) {
        fprintf(stderr, "usage: startlat RUNS PREPARE -- CMD [ARGS...]\n");
        return 2;
    }
    int runs = atoi(argv[1]);
    const char *prepare = argv[2];
    const char *stamp = getenv("STAMP_FILE");
    if (!stamp || !*stamp) {
        fprintf(stderr, "startlat: STAMP_FILE is not set\n");
        return 2;
    }
    for (int i = 0; i < runs; i++) {
        if (*prepare && system(prepare) != 0) {
            fprintf(stderr, "startlat: prepare failed\n");
            return 1;
        }
        unlink(stamp);
        long long t0 = now_ns();
        pid_t pid = fork();
        if (pid == 0) {
            execv(argv[4], argv + 4);
            _exit(127);
        }
        int status = 0;
        waitpid(pid, &status, 0);
        long long t2 = now_ns();
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            fprintf(stderr, "startlat: %s failed\n", argv[4]);
            return 1;
        }
        FILE *f = fopen(stamp, "r");
        long long t1 = 0;
        if (!f || fscanf(f, "%lld", &t1) != 1) {
            fprintf(stderr, "startlat: the stand-in wrote no stamp\n");
            return 1;
        }
        fclose(f);
        printf("%lld %lld\n", (t1 - t0) / 1000, (t2 - t1) / 1000);
    }
    return 0;
}
