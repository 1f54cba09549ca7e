/* First-order thermal model:  dT/dt = (T_amb + R*P - T) / tau
 *
 * With the heating power P held constant over a communication step of
 * length h, the exact solution is
 *   T(t + h) = T_inf + (T(t) - T_inf) * exp(-h / tau),  T_inf = T_amb + R*P,
 * which doStep evaluates, so the FMU is exact for piecewise-constant input
 * and the tests can compare against the closed form.
 *
 * Float64: 0 time, 1 T (output, degC), 2 P (input, W), 3 tau (s),
 *          4 R (K/W), 5 T_amb (degC), 6 T0 (initial T, degC)
 * Int32:   100 steps (output: doSteps taken)
 * Boolean: 200 enabled (input: heater on; P counts only when true)
 * String:  300 label (parameter, echoed nowhere; exercises String access) */
#include <math.h>
#include <stdio.h>

#include "model.h"

const int model_n_real = 7, model_n_int = 1, model_n_bool = 1, model_n_string = 1;

enum { T = 1, P, TAU, R, TAMB, T0 };

void model_defaults(model* m) {
  m->r[T] = 20.0;
  m->r[P] = 0.0;
  m->r[TAU] = 60.0;
  m->r[R] = 0.05;
  m->r[TAMB] = 20.0;
  m->r[T0] = 20.0;
  m->i[0] = 0;
  m->b[0] = true;
  snprintf(m->s[0], MODEL_STRING_LEN, "thermal");
}

model_status model_initialize(model* m) {
  if (!(m->r[TAU] > 0)) {
    snprintf(m->message, sizeof m->message, "tau must be > 0 (is %g)", m->r[TAU]);
    return model_error;
  }
  m->r[T] = m->r[T0];
  return model_ok;
}

model_status model_step(model* m, double t, double h) {
  (void)t;
  const double p = m->b[0] ? m->r[P] : 0.0;
  const double t_inf = m->r[TAMB] + m->r[R] * p;
  m->r[T] = t_inf + (m->r[T] - t_inf) * exp(-h / m->r[TAU]);
  m->i[0] += 1;
  return model_ok;
}
