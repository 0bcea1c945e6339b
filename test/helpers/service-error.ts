import { expect } from "vitest";
import { ServiceError } from "../../shared/errors.ts";

type ErrorClass<E extends Error> = new (...args: never[]) => E;

/** The error `fn` throws, of the given class (ServiceError by default); fails the test otherwise. */
export function thrownBy<E extends Error = ServiceError>(
  fn: () => unknown,
  type: ErrorClass<E> = ServiceError as unknown as ErrorClass<E>,
): E {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(type);
    return error as E;
  }
  throw new Error(`expected a ${type.name}`);
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
