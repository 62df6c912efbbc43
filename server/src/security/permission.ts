/**
 * The permissions a policy grants, one per kind of act, each checked
 * against a resource: an event type or pattern, a group name, a schema
 * subject. PERMISSION_DENIED names them as written here.
 */

/** Every permission, as a const object plus a type of the same name. */
export const Permission = {
  /** Publish events of a type (resource: the type). */
  publish: "publish",
  /** Subscribe to, or read the history of, a pattern (resource: the pattern or type). */
  subscribe: "subscribe",
  /** Join a consumer group (creating it when it does not exist). */
  groupJoin: "group.join",
  /** Change a consumer group's settings. */
  groupSettings: "group.settings",
  /** Delete a consumer group. */
  groupDelete: "group.delete",
  /** List, redrive and purge a group's dead letters. */
  groupDeadLetters: "group.dead-letters",
  /** See a group's definition and stats (any right on the group implies it). */
  groupView: "group.view",
  /** Register schema versions of a subject. */
  schemaWrite: "schema.write",
  /** Delete schema versions of a subject. */
  schemaDelete: "schema.delete",
  /** Set a subject's compatibility mode (the global one with subject ''). */
  schemaCompatibility: "schema.compatibility",
  /** See every group and the bus-wide delivery counters. */
  busView: "bus.view",
} as const;

/** A permission name. */
export type Permission = (typeof Permission)[keyof typeof Permission];

/** Rights a policy grants on group names. */
export const GROUP_RIGHTS = {
  join: [Permission.groupJoin, Permission.groupView],
  settings: [Permission.groupSettings, Permission.groupView],
  delete: [Permission.groupDelete, Permission.groupView],
  "dead-letters": [Permission.groupDeadLetters, Permission.groupView],
  view: [Permission.groupView],
} as const satisfies Record<string, readonly Permission[]>;

/** Rights a policy grants on schema subjects. */
export const SCHEMA_RIGHTS = {
  write: [Permission.schemaWrite],
  delete: [Permission.schemaDelete],
  compatibility: [Permission.schemaCompatibility],
} as const satisfies Record<string, readonly Permission[]>;

/** Admin rights: each grants its permissions on every resource. */
export const ADMIN_RIGHTS = {
  /** Register and delete any schema, `_base` included. */
  schemas: [Permission.schemaWrite, Permission.schemaDelete],
  /** Set any compatibility mode, the global one included. */
  compatibility: [Permission.schemaCompatibility],
  /** List, redrive and purge the dead letters of any group. */
  "dead-letters": [Permission.groupDeadLetters, Permission.groupView],
  /** Delete and reconfigure any group. */
  groups: [Permission.groupDelete, Permission.groupSettings, Permission.groupView],
  /** See every group and the delivery counters. */
  view: [Permission.groupView, Permission.busView],
  /** All of the above. */
  all: [
    Permission.schemaWrite,
    Permission.schemaDelete,
    Permission.schemaCompatibility,
    Permission.groupDeadLetters,
    Permission.groupDelete,
    Permission.groupSettings,
    Permission.groupView,
    Permission.busView,
  ],
} as const satisfies Record<string, readonly Permission[]>;

/** An admin right name. */
export type AdminRight = keyof typeof ADMIN_RIGHTS;
