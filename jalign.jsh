// jalign jshell startup: imports for scripting training from jshell.
// Start with:  ./jalign jshell    (or: jshell --class-path "$(./jalign classpath)" --startup DEFAULT --startup jalign.jsh)
import org.jalign.backend.*;
import org.jalign.tensor.*;
System.out.println("jalign ready: " + org.jalign.backend.NativeLibrary.buildInfo());
