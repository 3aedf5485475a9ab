// The GraphQL documents of the operator console (consumer groups, dead
// letters, offset reset and replay), with the shapes of their answers.

/** Int64 scalar: a number, or a string when it passes 2^53. */
export type Int64 = number | string;

export interface LagPoint {
  at: string;
  lag: Int64;
}

export interface GroupPartition {
  topicName: string;
  topic: { id: string } | null;
  partition: number;
  committedOffset: Int64 | null;
  endOffset: Int64 | null;
  lag: Int64 | null;
  memberId: string | null;
  clientId: string | null;
  host: string | null;
}

export interface GroupSummary {
  name: string;
  state: string;
  members: number;
  lag: Int64;
  updatedAt: string;
  error: string | null;
  processor: { id: string; name: string } | null;
  lagHistory: LagPoint[];
}

export interface GroupDetail extends GroupSummary {
  partitions: GroupPartition[];
}

const groupSummaryFields = `name state members lag updatedAt error processor { id name } lagHistory { at lag }`;
const groupDetailFields = `${groupSummaryFields} partitions(first: 1000) { topicName topic { id } partition committedOffset endOffset lag memberId clientId host }`;

export const groupsQuery = `query Groups { kafka { topicSettingsReadAt } groups(first: 1000) { ${groupSummaryFields} } }`;

export interface GroupsData {
  kafka: { topicSettingsReadAt: string | null } | null;
  groups: GroupSummary[];
}

export const groupQuery = `query Group($name: String!) { kafka { topicSettingsReadAt } group(name: $name) { ${groupDetailFields} } }`;

export interface GroupData {
  kafka: { topicSettingsReadAt: string | null } | null;
  group: GroupDetail | null;
}

export const resetMutation = `mutation Reset($group: String!, $topic: String!, $to: OffsetResetMode!, $timestamp: Time, $offset: Int64) {
  resetGroupOffsets(group: $group, topic: $topic, to: $to, timestamp: $timestamp, offset: $offset) { group topic partitions { partition from to } }
}`;

export interface ResetData {
  resetGroupOffsets: { group: string; topic: string; partitions: { partition: number; from: Int64 | null; to: Int64 }[] };
}

export interface DeadLetter {
  partition: number;
  offset: Int64;
  position: string;
  timestamp: string;
  originalTopic: string | null;
  originalPartition: number | null;
  originalOffset: Int64 | null;
  group: string | null;
  error: string;
  replayedFrom: string | null;
  replayed: boolean;
  key: string | null;
  value: string | null;
  valueError: string | null;
  valueHex: string;
  valueBytes: number;
  headers: { key: string; value: string }[];
}

export const deadLettersQuery = `query DeadLetters($id: ID!, $first: Int, $partition: Int, $offset: Int64) {
  kafka { topicSettingsReadAt }
  processorById(id: $id) {
    id groupName
    deadLetters {
      topic records recordsPerSecond
      letters(first: $first, partition: $partition, offset: $offset) {
        partition offset position timestamp originalTopic originalPartition originalOffset group error replayedFrom replayed
        key value valueError valueHex valueBytes headers { key value }
      }
    }
  }
}`;

export interface DeadLettersData {
  kafka: { topicSettingsReadAt: string | null } | null;
  processorById: {
    id: string;
    groupName: string;
    deadLetters: { topic: string; records: Int64; recordsPerSecond: number | null; letters: DeadLetter[] } | null;
  } | null;
}

export const replayMutation = `mutation Replay($id: ID!, $positions: [String!], $all: Boolean) {
  replayDeadLetters(processorId: $id, positions: $positions, all: $all) { topic sent positions targets }
}`;

export interface ReplayData {
  replayDeadLetters: { topic: string; sent: number; positions: string[]; targets: string[] };
}

/** The dead letters of every processor, for the map's data-flow level. */
export const dlqMapQuery = `query DlqMap { services { id name components { processors { id name deadLetters { records recordsPerSecond } } } } }`;

export interface DlqMapData {
  services: { id: string; name: string; components: { processors: { id: string; name: string; deadLetters: { records: Int64; recordsPerSecond: number | null } | null }[] }[] }[];
}
