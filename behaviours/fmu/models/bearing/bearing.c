/* Rolling-bearing wear and remaining useful life.
 *
 * Lundberg-Palmgren basic rating life (ISO 281 form) at the current
 * equivalent load P and dynamic load rating C (ratedLoad):
 *   L10 = a1 * (C / P)^p  million revolutions,  p = 3 (ball bearings)
 * Miner's rule accumulates damage D (0 new .. 1 end of life) per revolution
 * as 1 / L10, scaled by an Arrhenius-like temperature factor that speeds
 * wear up above the reference temperature (lubricant degradation):
 *   a_T = exp(Ea / k_B * (1 / T_ref - 1 / T))        (T in kelvin)
 *   dD/dt = (n / 60) / (L10 * 1e6) * a_T             (n in rpm)
 * With the inputs held over a step of length h, D grows by h * dD/dt.
 *   wear = min(D, 1)
 *   rul  = (1 - wear) / (dD/dt) / 86400   days at the current conditions
 *          (capped at 1e6 days when idle)
 *
 * Float64: 0 time, 1 load (input, N), 2 shaftSpeed (input, rpm),
 *          3 temperature (input, degC), 4 ratedLoad C (N), 5 lifeExponent p,
 *          6 lifeFactor a1, 7 activationEnergy Ea (eV), 8 referenceTemperature
 *          (degC), 9 initialWear, 10 wear (output), 11 rul (output, days),
 *          12 damageRate (output, 1/s)
 * Boolean: 200 failed (output: wear reached 1) */
#include <math.h>
#include <stdio.h>

#include "model.h"

const int model_n_real = 13, model_n_int = 0, model_n_bool = 1, model_n_string = 0;

enum { LOAD = 1, SPEED, TEMP, C, PEXP, A1, EA, TREF, W0, WEAR, RUL, RATE };

static const double k_boltzmann_ev = 8.617333262e-5; /* eV/K */
static const double max_rul_days = 1e6;

void model_defaults(model* m) {
  m->r[LOAD] = 1000.0;
  m->r[SPEED] = 1500.0;
  m->r[TEMP] = 70.0;
  m->r[C] = 10000.0;
  m->r[PEXP] = 3.0;
  m->r[A1] = 1.0;
  m->r[EA] = 0.3;
  m->r[TREF] = 70.0;
  m->r[W0] = 0.0;
}

static double damage_rate(const model* m) {
  const double load = m->r[LOAD] > 1e-9 ? m->r[LOAD] : 1e-9;
  const double speed = m->r[SPEED] > 0 ? m->r[SPEED] : 0.0;
  const double l10_rev = m->r[A1] * pow(m->r[C] / load, m->r[PEXP]) * 1e6;
  const double tk = m->r[TEMP] + 273.15, tref = m->r[TREF] + 273.15;
  const double a_t = exp(m->r[EA] / k_boltzmann_ev * (1.0 / tref - 1.0 / tk));
  return speed / 60.0 / l10_rev * a_t;
}

static void outputs(model* m) {
  const double d = m->x[0];
  m->r[WEAR] = d < 1.0 ? d : 1.0;
  m->r[RATE] = damage_rate(m);
  double rul = m->r[RATE] > 0 ? (1.0 - m->r[WEAR]) / m->r[RATE] / 86400.0 : max_rul_days;
  m->r[RUL] = rul < max_rul_days ? rul : max_rul_days;
  m->b[0] = d >= 1.0;
}

model_status model_initialize(model* m) {
  if (!(m->r[C] > 0) || !(m->r[PEXP] > 0) || !(m->r[A1] > 0)) {
    snprintf(m->message, sizeof m->message,
             "ratedLoad, lifeExponent and lifeFactor must be > 0");
    return model_error;
  }
  if (!(m->r[W0] >= 0 && m->r[W0] <= 1)) {
    snprintf(m->message, sizeof m->message, "initialWear must be in [0, 1] (is %g)", m->r[W0]);
    return model_error;
  }
  if (m->r[TEMP] <= -273.15) {
    snprintf(m->message, sizeof m->message, "temperature below absolute zero");
    return model_error;
  }
  m->x[0] = m->r[W0];
  outputs(m);
  return model_ok;
}

model_status model_step(model* m, double t, double h) {
  (void)t;
  if (m->r[TEMP] <= -273.15) {
    snprintf(m->message, sizeof m->message, "temperature below absolute zero at t=%g", t);
    return model_discard;
  }
  m->x[0] += h * damage_rate(m);
  outputs(m);
  return model_ok;
}
