/* Test-only FMU that misbehaves on purpose after failAfter doSteps.
 * mode 0: doStep returns Error; 1: doStep segfaults; 2: doStep hangs;
 * 3: doStep returns Warning (and then goes on); 4: doStep returns Fatal. FAULT_MODE sets the default
 * (the "failing" FMU uses 0, the "crashing" one 1).
 *
 * Float64: 0 time, 1 x (output: time at the end of the last step)
 * Int32:   100 failAfter, 101 mode (parameters) */
#include <stdio.h>
#include <unistd.h>

#include "model.h"

#ifndef FAULT_MODE
#define FAULT_MODE 0
#endif

const int model_n_real = 2, model_n_int = 2, model_n_bool = 0, model_n_string = 0;

void model_defaults(model* m) {
  m->i[0] = 3;
  m->i[1] = FAULT_MODE;
}

model_status model_initialize(model* m) {
  m->r[1] = m->r[0];
  return model_ok;
}

model_status model_step(model* m, double t, double h) {
  if (m->steps++ >= m->i[0]) {
    switch (m->i[1]) {
      case 0:
        snprintf(m->message, sizeof m->message, "deliberate failure at t=%g after %d steps", t,
                 (int)m->i[0]);
        return model_error;
      case 1: {
        volatile int* volatile p = 0;
        *p = 42; /* deliberate segfault */
        break;
      }
      case 2:
        for (;;)
          pause();
      case 4:
        snprintf(m->message, sizeof m->message, "deliberate fatal error at t=%g", t);
        return model_fatal;
      default:
        snprintf(m->message, sizeof m->message, "deliberate warning at t=%g", t);
        m->r[1] = t + h;
        return model_warning;
    }
  }
  m->r[1] = t + h;
  return model_ok;
}
