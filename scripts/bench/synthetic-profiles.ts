/**
 * Deterministic synthetic XDM data for the export benchmark, shaped like the CRM fixture in
 * `fixtures/crm`: one Individual Profile record per profile, one membership fragment per profile
 * in a second dataset, and page-view ExperienceEvents for some profiles. All three are keyed by a
 * primary `LOYALTYID` identity, so the fragments merge by profile id.
 *
 * Distribution per profile, drawn from mulberry32 with the given seed:
 * - segment `primary` (the segment id of the API documentation's examples): 30% realized, 5% exited;
 * - segment `secondary`: 20% realized, independent of the first;
 * - an AAM segment on every membership fragment, half `existing` and half `realized`;
 * - 30% of profiles have 1 to 4 events;
 * - 8% have no `personalEmail`, 5% no `homePhone`, 3% no `person.name.lastName`.
 */

/** Segment ids of the generated memberships. */
export const SEGMENT_IDS = {
  primary: '52c26d0d-45f2-47a2-ab30-ed06abc981ff',
  secondary: '2f7d1c9e-8b4a-4e1f-9c3d-5a6b7c8d9e0f',
  aam: '04a81716-43d6-4e7a-a49c-f1d8b3129ba9',
} as const;

/** NDJSON lines (compact JSON, no newline) of the three datasets. */
export interface SyntheticDataset {
  readonly profiles: string[];
  /** One per profile, in the same order as `profiles`. */
  readonly memberships: string[];
  readonly events: string[];
}

const FIRST_NAMES = ['Ewart', 'Novelia', 'Ulises', 'Friederike', 'Aurelia', 'Bram', 'Chiara', 'Dmitri', 'Elif', 'Farid', 'Greta', 'Hugo'];
const LAST_NAMES = ['Bennedsen', 'Ansteys', 'Mochan', 'Durrell', 'Okafor', 'Lindqvist', 'Moreau', 'Tanaka', 'Novak', 'Silva', 'Kowalski'];
const TITLES = ['Mr', 'Mrs', 'Ms', 'Dr'];
const MAIL_DOMAINS = ['example.com', 'example.org', 'mail.example.net', 'corp.example'];
const PLACES = [
  { city: 'Anniston', stateProvince: 'Alabama', country: 'US', latitude: 33.708276, longitude: -85.7922905 },
  { city: 'Charlotte', stateProvince: 'North Carolina', country: 'US', latitude: 35.2188655, longitude: -80.8108888 },
  { city: 'Lacolle', stateProvince: 'Québec', country: 'CA', latitude: 45.08338, longitude: -73.36585 },
  { city: 'Independencia', stateProvince: 'Veracruz Llave', country: 'MX', latitude: 19.3803931, longitude: -99.1476908 },
];
const STREETS = ['Buhler Crossing', 'Northfield Hill', 'Mifflin Trail', 'Fremont Hill', 'Oak Lane'];
const PAGES = ['men', 'women', 'equipment', 'sale', 'search', 'cart', 'checkout'];
const BROWSERS = [
  { name: 'Firefox', version: '57.0' },
  { name: 'Safari', version: '11.0.2' },
  { name: 'Chrome', version: '63.0.3239' },
];
const QUALIFICATION_START_MS = Date.parse('2018-01-01T00:00:00Z');
const EVENT_START_MS = Date.parse('2018-01-01T00:00:00Z');
const HOUR_MS = 3_600_000;

/** mulberry32: a small seeded PRNG returning floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** Generates `count` profiles with their membership fragments and events; the same seed gives the same lines. */
export function generateDataset(count: number, seed: number): SyntheticDataset {
  const random = mulberry32(seed);
  const pick = <T>(values: readonly T[]): T => values[Math.floor(random() * values.length)]!;
  const digits = (length: number): string => Array.from({ length }, () => Math.floor(random() * 10)).join('');
  const hex = (length: number): string => Array.from({ length }, () => Math.floor(random() * 16).toString(16)).join('');
  const isoTime = (start: number, spanHours: number): string => new Date(start + Math.floor(random() * spanHours) * HOUR_MS).toISOString();

  const profiles: string[] = [];
  const memberships: string[] = [];
  const events: string[] = [];
  for (let index = 0; index < count; index++) {
    // The index in the id keeps ids unique whatever the PRNG draws.
    const loyaltyId = `${hex(8)}${index.toString(16).padStart(8, '0')}-${hex(16)}`;
    const loyalty = { LOYALTYID: [{ id: loyaltyId, primary: true }] };

    const firstName = pick(FIRST_NAMES);
    const lastName = pick(LAST_NAMES);
    const birthYear = 1940 + Math.floor(random() * 66);
    const month = 1 + Math.floor(random() * 12);
    const day = 1 + Math.floor(random() * 28);
    const place = pick(PLACES);
    const name: Record<string, unknown> = { courtesyTitle: pick(TITLES), firstName };
    if (random() >= 0.03) name.lastName = lastName;
    const profile: Record<string, unknown> = {
      person: {
        name,
        gender: random() < 0.5 ? 'male' : 'female',
        birthDayAndMonth: `${pad2(month)}-${pad2(day)}`,
        birthDate: `${birthYear}-${pad2(month)}-${pad2(day)}`,
        birthYear,
      },
      identityMap: {
        CRMID: [{ id: `${hex(8)}-${hex(4)}-${hex(4)}-${hex(4)}-${hex(12)}`, primary: false }],
        ECID: [
          { id: digits(38), primary: false },
          { id: digits(38), primary: false },
        ],
        ...loyalty,
      },
    };
    if (random() >= 0.05) profile.homePhone = { number: `${digits(3)}-${digits(3)}-${digits(4)}` };
    if (random() >= 0.08) {
      profile.personalEmail = { address: `${firstName[0]!.toLowerCase()}${lastName.toLowerCase()}${index}@${pick(MAIL_DOMAINS)}` };
    }
    profile.homeAddress = {
      street1: `${1 + Math.floor(random() * 999)} ${pick(STREETS)}`,
      city: place.city,
      stateProvince: place.stateProvince,
      country: place.country,
      postalCode: digits(5),
      _schema: { latitude: place.latitude, longitude: place.longitude },
    };
    profiles.push(JSON.stringify(profile));

    const ups: Record<string, unknown> = {};
    const primaryDraw = random();
    if (primaryDraw < 0.3) {
      ups[SEGMENT_IDS.primary] = { status: 'realized', lastQualificationTime: isoTime(QUALIFICATION_START_MS, 24 * 365) };
    } else if (primaryDraw < 0.35) {
      ups[SEGMENT_IDS.primary] = { status: 'exited', lastQualificationTime: isoTime(QUALIFICATION_START_MS, 24 * 365) };
    }
    if (random() < 0.2) {
      ups[SEGMENT_IDS.secondary] = { status: 'realized', lastQualificationTime: isoTime(QUALIFICATION_START_MS, 24 * 365) };
    }
    const aam = {
      [SEGMENT_IDS.aam]: { status: random() < 0.5 ? 'existing' : 'realized', lastQualificationTime: isoTime(QUALIFICATION_START_MS, 24 * 365) },
    };
    memberships.push(JSON.stringify({ identityMap: loyalty, segmentMembership: { ups, AAM: aam } }));

    if (random() < 0.3) {
      const eventCount = 1 + Math.floor(random() * 4);
      for (let eventIndex = 0; eventIndex < eventCount; eventIndex++) {
        events.push(
          JSON.stringify({
            _id: `evt-${index}-${eventIndex}`,
            timestamp: isoTime(EVENT_START_MS, 24 * 730),
            eventType: 'web.webpagedetails.pageViews',
            identityMap: loyalty,
            environment: { type: 'browser', browserDetails: pick(BROWSERS) },
            web: { webPageDetails: { URL: `https://luma.example.com/${pick(PAGES)}` } },
          }),
        );
      }
    }
  }
  return { profiles, memberships, events };
}

function pad2(value: number): string {
  return String(value).padStart(2, '0');
}
