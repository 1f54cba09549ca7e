// Semantic types, unit types and units of the QuantitativeTypes extension
// v1 (DTDL/v3/DTDL.quantitativeTypes.v1.md, context
// "dtmi:dtdl:extension:quantitativeTypes;1"). DTDL v2 has the same types
// natively (DTDL/v2/DTDL.v2.md "Semantic types"); we use one table for both.

#include <algorithm>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

#include "detail.hpp"

namespace twin::model::detail {

namespace {

struct tables {
  std::unordered_map<std::string_view, std::string_view> semantic;
  std::unordered_map<std::string_view, std::unordered_set<std::string_view>> units;
};

const tables& get() {
  static const tables t = [] {
    tables t;
    t.semantic = {
      {"Acceleration", "AccelerationUnit"}, {"Angle", "AngleUnit"},
      {"AngularAcceleration", "AngularAccelerationUnit"},
      {"AngularVelocity", "AngularVelocityUnit"},
      {"ApparentEnergy", "ApparentEnergyUnit"},
      {"ApparentPower", "ApparentPowerUnit"}, {"Area", "AreaUnit"},
      {"Capacitance", "CapacitanceUnit"}, {"Concentration", "Unitless"},
      {"Current", "CurrentUnit"}, {"DataRate", "DataRateUnit"},
      {"DataSize", "DataSizeUnit"}, {"Density", "DensityUnit"},
      {"Distance", "LengthUnit"}, {"ElectricCharge", "ChargeUnit"},
      {"Energy", "EnergyUnit"}, {"EnergyRate", "PowerUnit"},
      {"Force", "ForceUnit"}, {"Frequency", "FrequencyUnit"},
      {"Humidity", "DensityUnit"}, {"Illuminance", "IlluminanceUnit"},
      {"Inductance", "InductanceUnit"},
      {"IonizingRadiationDose", "IonizingRadiationDoseUnit"},
      {"Irradiance", "IrradianceUnit"}, {"Latitude", "AngleUnit"},
      {"Length", "LengthUnit"}, {"Longitude", "AngleUnit"},
      {"Luminance", "LuminanceUnit"}, {"Luminosity", "PowerUnit"},
      {"LuminousFlux", "LuminousFluxUnit"},
      {"LuminousIntensity", "LuminousIntensityUnit"},
      {"MagneticFlux", "MagneticFluxUnit"},
      {"MagneticInduction", "MagneticInductionUnit"}, {"Mass", "MassUnit"},
      {"MassFlowRate", "MassFlowRateUnit"}, {"Power", "PowerUnit"},
      {"Pressure", "PressureUnit"}, {"Radioactivity", "RadioactivityUnit"},
      {"ReactiveEnergy", "ReactiveEnergyUnit"},
      {"ReactivePower", "ReactivePowerUnit"}, {"RelativeDensity", "Unitless"},
      {"RelativeHumidity", "Unitless"}, {"Resistance", "ResistanceUnit"},
      {"SoundPressure", "SoundPressureUnit"},
      {"Temperature", "TemperatureUnit"}, {"Thrust", "ForceUnit"},
      {"TimeSpan", "TimeUnit"}, {"Torque", "TorqueUnit"},
      {"Velocity", "VelocityUnit"}, {"Voltage", "VoltageUnit"},
      {"Volume", "VolumeUnit"}, {"VolumeFlowRate", "VolumeFlowRateUnit"},
    };
    const std::unordered_set<std::string_view> power = {
      "britishThermalUnitPerHour", "gigajoulePerHour", "gigawatt", "horsepower",
      "joulePerHour", "joulePerSecond", "kiloBritishThermalUnitPerHour",
      "kilojoulePerHour", "kilojoulePerSecond", "kilowatt",
      "kilowattHourPerYear", "megajoulePerHour", "megawatt", "microwatt",
      "milliwatt", "tonOfRefrigeration", "watt"};
    t.units = {
      {"AccelerationUnit", {"centimetrePerSecondSquared", "gForce", "metrePerSecondSquared"}},
      {"AngleUnit", {"degreeOfArc", "minuteOfArc", "radian", "secondOfArc", "turn"}},
      {"AngularAccelerationUnit", {"radianPerSecondSquared"}},
      {"AngularVelocityUnit", {"degreePerSecond", "radianPerSecond", "revolutionPerMinute", "revolutionPerSecond"}},
      {"ApparentEnergyUnit", {"gigavoltAmpereHour", "kilovoltAmpereHour", "megavoltAmpereHour", "voltAmpereHour"}},
      {"ApparentPowerUnit", {"gigavoltAmpere", "kilovoltAmpere", "megavoltAmpere", "millivoltAmpere", "voltAmpere"}},
      {"AreaUnit", {"acre", "hectare", "squareCentimetre", "squareFoot", "squareInch", "squareKilometre", "squareMetre", "squareMillimetre"}},
      {"CapacitanceUnit", {"farad", "microfarad", "millifarad", "nanofarad", "picofarad"}},
      {"Unitless", {"partsPerBillion", "partsPerMillion", "partsPerQuadrillion", "partsPerTrillion", "percent", "unity"}},
      {"CurrentUnit", {"ampere", "kiloampere", "microampere", "milliampere"}},
      {"DataRateUnit", {"bitPerSecond", "bytePerSecond", "exbibitPerSecond", "exbibytePerSecond", "gibibitPerSecond", "gibibytePerSecond", "kibibitPerSecond", "kibibytePerSecond", "mebibitPerSecond", "mebibytePerSecond", "tebibitPerSecond", "tebibytePerSecond", "yobibitPerSecond", "yobibytePerSecond", "zebibitPerSecond", "zebibytePerSecond"}},
      {"DataSizeUnit", {"bit", "byte", "exbibit", "exbibyte", "gibibit", "gibibyte", "kibibit", "kibibyte", "mebibit", "mebibyte", "tebibit", "tebibyte", "yobibit", "yobibyte", "zebibit", "zebibyte"}},
      {"DensityUnit", {"gramPerCubicMetre", "kilogramPerCubicMetre", "microgramPerCubicMetre", "milligramPerCubicMetre"}},
      {"LengthUnit", {"astronomicalUnit", "centimetre", "foot", "inch", "kilometre", "metre", "micrometre", "mile", "millimetre", "nanometre", "nauticalMile"}},
      {"ChargeUnit", {"ampereHour", "coulomb", "milliampereHour"}},
      {"EnergyUnit", {"britishThermalUnit", "electronvolt", "gigajoule", "gigawattHour", "joule", "kiloBritishThermalUnit", "kilojoule", "kilowattHour", "megaelectronvolt", "megajoule", "megawattHour", "milliwattHour", "terawattHour", "wattHour"}},
      {"PowerUnit", power},
      {"ForceUnit", {"newton", "ounce", "pound", "ton"}},
      {"FrequencyUnit", {"gigahertz", "hertz", "kilohertz", "megahertz", "millihertz"}},
      {"IlluminanceUnit", {"footcandle", "lux"}},
      {"InductanceUnit", {"henry", "microhenry", "millihenry"}},
      {"IonizingRadiationDoseUnit", {"gray", "microgray", "microsievert", "milligray", "millisievert", "sievert"}},
      {"IrradianceUnit", {"wattPerSquareMetre"}},
      {"LuminanceUnit", {"candelaPerSquareMetre"}},
      {"LuminousFluxUnit", {"lumen"}},
      {"LuminousIntensityUnit", {"candela"}},
      {"MagneticFluxUnit", {"maxwell", "weber"}},
      {"MagneticInductionUnit", {"gauss", "tesla"}},
      {"MassUnit", {"gram", "kilogram", "massPound", "microgram", "milligram", "slug", "tonne"}},
      {"MassFlowRateUnit", {"gramPerHour", "gramPerSecond", "kilogramPerHour", "kilogramPerSecond", "massPoundPerHour"}},
      {"PressureUnit", {"bar", "decapascal", "hectopascal", "inchesOfMercury", "inchesOfWater", "kilopascal", "millibar", "millimetresOfMercury", "pascal", "poundPerSquareInch"}},
      {"RadioactivityUnit", {"becquerel", "gigabecquerel", "kilobecquerel", "megabecquerel"}},
      {"ReactiveEnergyUnit", {"gigavoltAmpereReactiveHour", "kilovoltAmpereReactiveHour", "megavoltAmpereReactiveHour", "voltAmpereReactiveHour"}},
      {"ReactivePowerUnit", {"gigavoltAmpereReactive", "kilovoltAmpereReactive", "megavoltAmpereReactive", "millivoltAmpereReactive", "voltAmpereReactive"}},
      {"ResistanceUnit", {"kiloohm", "megaohm", "milliohm", "ohm"}},
      {"SoundPressureUnit", {"bel", "decibel"}},
      {"TemperatureUnit", {"degreeCelsius", "degreeFahrenheit", "kelvin"}},
      {"TimeUnit", {"day", "hour", "microsecond", "millisecond", "minute", "nanosecond", "second", "year"}},
      {"TorqueUnit", {"newtonMetre"}},
      {"VelocityUnit", {"centimetrePerSecond", "kilometrePerHour", "kilometrePerSecond", "knot", "metrePerHour", "metrePerSecond", "milePerHour", "milePerSecond"}},
      {"VoltageUnit", {"kilovolt", "megavolt", "microvolt", "millivolt", "volt"}},
      {"VolumeUnit", {"cubicCentimetre", "cubicFoot", "cubicInch", "cubicMetre", "fluidOunce", "gallon", "litre", "millilitre"}},
      {"VolumeFlowRateUnit", {"cubicFootPerMinute", "cubicMetrePerHour", "cubicMetrePerMinute", "cubicMetrePerSecond", "gallonPerHour", "gallonPerMinute", "litrePerHour", "litrePerMinute", "litrePerSecond", "millilitrePerHour", "millilitrePerMinute", "millilitrePerSecond"}},
    };
    return t;
  }();
  return t;
}

} // namespace

const char* semantic_unit_type(std::string_view type) noexcept {
  const auto& t = get();
  auto it = t.semantic.find(type);
  return it == t.semantic.end() ? nullptr : it->second.data();
}

bool unit_in_type(std::string_view unit_type, std::string_view unit) noexcept {
  const auto& t = get();
  auto it = t.units.find(unit_type);
  return it != t.units.end() && it->second.count(unit) > 0;
}

} // namespace twin::model::detail
