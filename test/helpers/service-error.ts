import { expect } from "vitest";
import { ServiceError } from "../../shared/errors.ts";

/** The ServiceError `fn` throws; fails the test when it throws nothing or something else. */
export function thrownBy(fn: () => unknown): ServiceError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ServiceError);
    return error as ServiceError;
  }
  throw new Error("expected a ServiceError");
}

/** The ServiceError `promise` rejects with; fails the test when it resolves or rejects with something else. */
export async function rejectionOf(promise: Promise<unknown>): Promise<ServiceError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(ServiceError);
    return error as ServiceError;
  }
  throw new Error("expected a ServiceError");
}
