using System.Buffers;

namespace VmConsole.Migration.Wire;

/// <summary>
/// Takes the sections a <see cref="MigrationStreamReader"/> does not load itself: device state, a
/// QEMU_VM_SECTION_FULL of anything but <c>ram</c> and <c>vmconsole/state</c>, which the reader steps over and the
/// handler keeps. The reader reads the stream's framing (section headers and footers, EOF); the handler knows how long
/// each device's state is. Without a handler the reader refuses device sections.
/// </summary>
/// <remarks>Called only by the task reading the stream, one section at a time.</remarks>
public interface IDeviceSectionHandler
{
    /// <summary>Most bytes kept from the first device section on when they cannot be stepped over as they arrive.</summary>
    int MaxTailBytes { get; }

    /// <summary>
    /// A device section's header has been read. True: its state can be stepped over now (<see cref="TrySkipState"/>,
    /// then the reader reads its footer and calls <see cref="EndSection"/>). False: every byte from its state to the
    /// end of the stream is kept, at most <see cref="MaxTailBytes"/>, and given to <see cref="FinishTail"/>.
    /// </summary>
    /// <exception cref="MigrationStreamException">The section cannot be stepped over.</exception>
    bool BeginSection(DeviceSectionHeader header);

    /// <summary>Steps over the state of the section begun. False when the buffer ends inside it: nothing to undo, the reader rewinds and calls again.</summary>
    /// <exception cref="MigrationStreamException">The state does not match what the handler knows of it.</exception>
    bool TrySkipState(ref SequenceReader<byte> reader);

    /// <summary>The footer of the section begun has been read: it was stepped over.</summary>
    void EndSection();

    /// <summary>
    /// The stream has ended while being kept: <paramref name="tail"/> holds every byte from the state of the section
    /// begun last to the end of the stream. Steps over each section in it up to EOF and returns the VM description
    /// (JSON) that follows EOF.
    /// </summary>
    /// <param name="bytesRead">The stream's length, for the messages about a tail that ends too soon.</param>
    /// <exception cref="MigrationStreamException">The tail is malformed, or does not end with the description.</exception>
    string FinishTail(ReadOnlySequence<byte> tail, long bytesRead);
}
