/* Discrete PID controller, evaluated once per communication step:
 *   e = setpoint - measurement
 *   I += e * h                        (only while u is not saturated the
 *                                      way e would push it: anti-windup)
 *   D = (e - e_prev) / h              (0 on the first step)
 *   u = clamp(kp*e + ki*I + kd*D, uMin, uMax)
 * u is computed from the inputs at the start of the step and held over the
 * next one (a sampled controller with period h).
 *
 * Float64: 0 time, 1 setpoint (input), 2 measurement (input), 3 u (output),
 *          4 kp, 5 ki, 6 kd, 7 uMin, 8 uMax (parameters) */
#include <stdio.h>

#include "model.h"

const int model_n_real = 9, model_n_int = 0, model_n_bool = 0, model_n_string = 0;

enum { SP = 1, Y, U, KP, KI, KD, UMIN, UMAX };
enum { INTEGRAL = 0, E_PREV = 1, HAVE_PREV = 2 };

void model_defaults(model* m) {
  m->r[SP] = 0.0;
  m->r[Y] = 0.0;
  m->r[U] = 0.0;
  m->r[KP] = 1.0;
  m->r[KI] = 0.0;
  m->r[KD] = 0.0;
  m->r[UMIN] = -1e6;
  m->r[UMAX] = 1e6;
}

static double clamp(double v, double lo, double hi) { return v < lo ? lo : v > hi ? hi : v; }

model_status model_initialize(model* m) {
  if (!(m->r[UMIN] < m->r[UMAX])) {
    snprintf(m->message, sizeof m->message, "uMin (%g) must be < uMax (%g)", m->r[UMIN],
             m->r[UMAX]);
    return model_error;
  }
  m->x[INTEGRAL] = 0;
  m->x[HAVE_PREV] = 0;
  m->r[U] = clamp(m->r[KP] * (m->r[SP] - m->r[Y]), m->r[UMIN], m->r[UMAX]);
  return model_ok;
}

model_status model_step(model* m, double t, double h) {
  (void)t;
  const double e = m->r[SP] - m->r[Y];
  const double d = m->x[HAVE_PREV] != 0 ? (e - m->x[E_PREV]) / h : 0.0;
  const double i_new = m->x[INTEGRAL] + e * h;
  const double raw = m->r[KP] * e + m->r[KI] * i_new + m->r[KD] * d;
  const double u = clamp(raw, m->r[UMIN], m->r[UMAX]);
  /* Anti-windup: keep integrating only when not saturated, or when the
     error drives the output back out of saturation. */
  if (raw == u || (raw > u && e < 0) || (raw < u && e > 0))
    m->x[INTEGRAL] = i_new;
  m->x[E_PREV] = e;
  m->x[HAVE_PREV] = 1;
  m->r[U] = u;
  return model_ok;
}
