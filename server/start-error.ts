/** A start that cannot go on, with a message for the operator (server/main.ts prints it and exits 1). */
export class StartError extends Error {}
